# gRefCOCO for the generalised referring task (GRefCocoDataset): one, several or no target per
# expression. Variables are named per dataset so that several dataset bases can be inherited
# together. Layout (images are COCO train2014):
#   data/coco/train2014/*.jpg
#   data/coco/grefcoco/{instances.json, grefs(unc).json}   train / val / testA / testB
grefcoco_root = 'data/coco/'

grefcoco_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(1024, 1024), keep_ratio=True),  # long side 1024; the model pads
    dict(type='PackPSALMInputs', meta_keys=('no_target', )),
]
# Evaluation: annotations loaded after Resize, so masks stay at the original size, and copied
# to the metainfo (0 masks for a no-target expression, one per target otherwise).
grefcoco_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1024, 1024), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackPSALMInputs', meta_keys=('gt_masks', 'no_target', 'ref_id', 'sent_id')),
]

grefcoco_train = dict(
    type='GRefCocoDataset',
    data_root=grefcoco_root,
    data_prefix=dict(img_path='train2014/'),
    ann_file='grefcoco/instances.json',
    split_file='grefcoco/grefs(unc).json',
    split='train',
    protocol='per_sentence',
    pipeline=grefcoco_train_pipeline)
# val by default; test_dataloader.dataset.split=testA (or testB) for the test splits.
# protocol='per_sentence' is ReLA's / GSVA's unit; the reference's eval_grefcoco.py joins a
# ref's sentences (protocol='per_ref').
grefcoco_val = dict(
    type='GRefCocoDataset',
    data_root=grefcoco_root,
    data_prefix=dict(img_path='train2014/'),
    ann_file='grefcoco/instances.json',
    split_file='grefcoco/grefs(unc).json',
    split='val',
    protocol='per_sentence',
    test_mode=True,
    pipeline=grefcoco_test_pipeline)
# Dataloaders and evaluators are assembled by the runnable configs (joint training, one
# evaluation config per benchmark).

# gIoU, cIoU, N-acc, T-acc (ReLA) from the explicit no-target decision, plus PSALM's protocol.
grefcoco_evaluator = dict(type='GRESMetric')
