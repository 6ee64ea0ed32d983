# RefCOCO / RefCOCO+ / RefCOCOg for the referring task (PSALMRefCocoDataset). Variables are
# named per dataset so that several dataset bases can be inherited together.
# Layout (as mmdet's refcoco configs; images are COCO train2014):
#   data/coco/train2014/*.jpg
#   data/coco/refcoco/{instances.json, refs(unc).p}     val / testA / testB
#   data/coco/refcoco+/{instances.json, refs(unc).p}    val / testA / testB
#   data/coco/refcocog/{instances.json, refs(umd).p}    val / test
# The pickles are read without running code; to drop them altogether, convert them once with
# tools/dataset_converters/refer_pickle_to_json.py and point split_file at the .json files.
refcoco_root = 'data/coco/'

refcoco_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(1024, 1024), keep_ratio=True),  # long side 1024; the model pads
    dict(type='PackPSALMInputs'),
]
# Evaluation: annotations are loaded *after* Resize, so the masks stay at the original size
# (ori_shape), where predictions are scored (as mmdet's refcoco configs). They also go to the
# metainfo, where mmdet's RefSegMetric reads them.
refcoco_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1024, 1024), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackPSALMInputs', meta_keys=('gt_masks', 'ref_id', 'sent_id')),
]

# Training (reference): one sample per referred object, all its sentences joined
# (" s1. s2."); sample_sentence=True draws one sentence per access instead.
refcoco_train = dict(
    type='PSALMRefCocoDataset',
    data_root=refcoco_root,
    data_prefix=dict(img_path='train2014/'),
    ann_file='refcoco/instances.json',
    split_file='refcoco/refs(unc).p',
    split='train',
    protocol='per_ref',
    pipeline=refcoco_train_pipeline)
refcoco_plus_train = dict(
    refcoco_train, ann_file='refcoco+/instances.json', split_file='refcoco+/refs(unc).p')
refcocog_train = dict(
    refcoco_train, ann_file='refcocog/instances.json', split_file='refcocog/refs(umd).p')
# The referring task trains on the three train splits together.
referring_train = dict(
    type='ConcatDataset', datasets=[refcoco_train, refcoco_plus_train, refcocog_train])

# Evaluation on RefCOCO val. Other splits and datasets, e.g. with --cfg-options:
#   test_dataloader.dataset.split=testA                  (or testB)
#   test_dataloader.dataset.ann_file=refcoco+/instances.json
#       test_dataloader.dataset.split_file='refcoco+/refs(unc).p'   (val / testA / testB)
#   test_dataloader.dataset.ann_file=refcocog/instances.json
#       test_dataloader.dataset.split_file='refcocog/refs(umd).p'   (val / test)
# protocol='per_ref' is PSALM's unit (its reported 83.6 cIoU on RefCOCO val);
# protocol='per_sentence' is LISA's / GSVA's (one sample per sentence).
refcoco_val = dict(
    type='PSALMRefCocoDataset',
    data_root=refcoco_root,
    data_prefix=dict(img_path='train2014/'),
    ann_file='refcoco/instances.json',
    split_file='refcoco/refs(unc).p',
    split='val',
    protocol='per_ref',
    test_mode=True,
    pipeline=refcoco_test_pipeline)
# Dataloaders and evaluators are assembled by the runnable configs (joint training, one
# evaluation config per benchmark).

# cIoU / gIoU; an empty union counts as IoU 1 (PSALM, LISA, GSVA).
refcoco_evaluator = dict(type='ReferringSegMetric')
