# Open-vocabulary (out-of-domain) evaluation sets. Variables are named per dataset so that several
# dataset bases can be inherited together; a config picks e.g.
#   test_dataloader = dict(batch_size=1, ..., dataset=_base_.pascal_context_59_val)
#   test_evaluator = _base_.pascal_context_59_evaluator
# Check a data folder and get instructions with tools/dataset_converters/prepare_open_vocab.py.
# Evaluation pipelines load the annotations *after* Resize, so they stay at the original size
# (where mmdet's metrics score the predictions); the model pads the image to 1024x1024.
# `categories` are fc-clip's synonym strings (first synonym above 200 classes), as the reference;
# set category_names='plain' on a dataset for the plain names.
open_vocab_image_scale = (1024, 1024)  # long side to 1024

# ---------------------------------------------------------------- ADE20K-150 (ADEChallengeData2016)
# images/validation/*.jpg, annotations/validation/*.png (raw ids, 0 = other) and, from mmdet's
# tools/dataset_converters/ade20k2coco.py (needs annotations_instance/ from the instance release):
# ade20k_panoptic_val.json + ade20k_panoptic_val/*.png, ade20k_instance_val.json.
ade20k_root = 'data/ADEChallengeData2016/'
ade20k_150_panoptic_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=open_vocab_image_scale, keep_ratio=True),
    dict(type='LoadPanopticSegments', with_bbox=False, with_mask=False, with_seg=True),
    dict(type='PackPSALMInputs', meta_keys=('segments_info', )),
]
ade20k_150_panoptic_val = dict(
    type='PSALMADE20KPanopticDataset',
    data_root=ade20k_root,
    ann_file='ade20k_panoptic_val.json',
    data_prefix=dict(img='images/validation/', seg='ade20k_panoptic_val/'),
    test_mode=True,
    pipeline=ade20k_150_panoptic_test_pipeline)
ade20k_150_panoptic_evaluator = dict(
    type='CocoPanopticMetric',
    ann_file=ade20k_root + 'ade20k_panoptic_val.json',
    seg_prefix=ade20k_root + 'ade20k_panoptic_val/')

ade20k_150_instance_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=open_vocab_image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackPSALMInputs'),
]
ade20k_150_instance_val = dict(
    type='PSALMADE20KInstanceDataset',
    data_root=ade20k_root,
    ann_file='ade20k_instance_val.json',
    data_prefix=dict(img='images/validation/'),
    test_mode=True,
    pipeline=ade20k_150_instance_test_pipeline)
ade20k_150_instance_evaluator = dict(
    type='CocoMetric', ann_file=ade20k_root + 'ade20k_instance_val.json', metric=['segm'])

# Raw ADE ids: reduce_zero_label turns 0 (other) into 255 and shifts the 150 classes to 0..149,
# the content of the reference's annotations_detectron2 (Mask2Former's prepare_ade20k_sem_seg.py).
ade20k_150_semantic_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=open_vocab_image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=False, with_label=False, with_seg=True,
         reduce_zero_label=True),
    dict(type='PackPSALMInputs'),
]
ade20k_150_semantic_val = dict(
    type='PSALMADE20KSegDataset',
    data_root=ade20k_root,
    data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
    test_mode=True,
    pipeline=ade20k_150_semantic_test_pipeline)
# mIoU averaged over the classes present in the ground truth (class_average='gt_present'), as
# the reference's detectron2 SemSegEvaluator; class_average='gt_or_pred_present' gives mmseg's /
# mmdet SemSegMetric's nanmean (a class predicted but absent from the GT counts as 0). mmdet 3.3's
# SemSegMetric also reports mean class accuracy as aAcc (docs/evaluation_protocols.md 1.6, 6).
open_vocab_semantic_evaluator = dict(type='OVSemSegMetric', class_average='gt_present')
ade20k_150_semantic_evaluator = open_vocab_semantic_evaluator

# ------------------------------------------------------------------------------------ Cityscapes
# leftImg8bit/val/<city>/*_leftImg8bit.png; gtFine/val/<city>/*_gtFine_labelTrainIds.png made by
# cityscapesscripts' csCreateTrainIdLabelImgs; the instance json by mmdet's
# tools/dataset_converters/cityscapes.py. Not evaluated by the reference; the paper reports
# instance AP (Tab. 11). No synonym list is shipped: plain names.
cityscapes_root = 'data/cityscapes/'
cityscapes_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=open_vocab_image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=False, with_label=False, with_seg=True),
    dict(type='PackPSALMInputs'),
]
cityscapes_val = dict(
    type='PSALMCityscapesSegDataset',
    data_root=cityscapes_root,
    data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
    test_mode=True,
    pipeline=cityscapes_test_pipeline)
cityscapes_evaluator = open_vocab_semantic_evaluator

cityscapes_instance_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=open_vocab_image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackPSALMInputs'),
]
cityscapes_instance_val = dict(
    type='PSALMCityscapesInstanceDataset',
    data_root=cityscapes_root,
    ann_file='annotations/instancesonly_filtered_gtFine_val.json',
    data_prefix=dict(img='leftImg8bit/val/'),
    test_mode=True,
    pipeline=cityscapes_instance_test_pipeline)
# COCO-style mask AP; the Cityscapes benchmark AP is mmdet's CityScapesMetric (needs
# `pip install cityscapesscripts`): dict(type='CityScapesMetric', seg_prefix=cityscapes_root +
# 'gtFine/val', outfile_prefix='work_dirs/cityscapes_metric/instance').
cityscapes_instance_evaluator = dict(
    type='CocoMetric',
    ann_file=cityscapes_root + 'annotations/instancesonly_filtered_gtFine_val.json',
    metric=['segm'])

# -------------------------------------------------------------- Pascal Context 59 / 459 (VOC2010)
# fc-clip's layout (the reference's): pascal_ctx_d2/images/validation/*.jpg,
# annotations_ctx59/validation/*.png (fc-clip prepare_pascal_ctx_sem_seg.py, needs the Detail API)
# and annotations_ctx459/validation/*.tif (tools/dataset_converters/pascal_context_459.py).
pascal_context_root = 'data/pascal_ctx_d2/'
pascal_context_59_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=open_vocab_image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=False, with_label=False, with_seg=True),
    dict(type='PackPSALMInputs'),
]
pascal_context_59_val = dict(
    type='PSALMPascalContext59Dataset',
    data_root=pascal_context_root,
    data_prefix=dict(img_path='images/validation', seg_map_path='annotations_ctx59/validation'),
    test_mode=True,
    pipeline=pascal_context_59_test_pipeline)
pascal_context_59_evaluator = open_vocab_semantic_evaluator

# 16-bit maps, 65535 ignored (255 is a class): the ignore index travels in gt_sem_seg's metainfo.
pascal_context_459_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=open_vocab_image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=False, with_label=False, with_seg=True,
         ignore_index=65535),
    dict(type='PackPSALMInputs'),
]
pascal_context_459_val = dict(
    type='PSALMPascalContext459Dataset',
    data_root=pascal_context_root,
    data_prefix=dict(img_path='images/validation', seg_map_path='annotations_ctx459/validation'),
    test_mode=True,
    pipeline=pascal_context_459_test_pipeline)
# mmdet reads the ignore index from the prediction (default 255): set it explicitly.
pascal_context_459_evaluator = dict(open_vocab_semantic_evaluator, ignore_index=65535)

# ------------------------------------------------------------------------ Pascal VOC 20 (VOC2012)
# The official release, no conversion: palette PNGs read with pillow (OpenCV would expand the
# palette); reduce_zero_label drops the background and the 255 boundary, as fc-clip's
# annotations_pascal20. For fc-clip's pascal_voc_d2 layout instead: data_root
# 'data/pascal_voc_d2/', no ann_file, data_prefix img_path='images/validation',
# seg_map_path='annotations_pascal20/validation', and reduce_zero_label=False.
pascal_voc_root = 'data/VOCdevkit/VOC2012/'
pascal_voc_20_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=open_vocab_image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=False, with_label=False, with_seg=True,
         reduce_zero_label=True, imdecode_backend='pillow'),
    dict(type='PackPSALMInputs'),
]
pascal_voc_20_val = dict(
    type='PSALMPascalVOC20Dataset',
    data_root=pascal_voc_root,
    ann_file='ImageSets/Segmentation/val.txt',
    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
    test_mode=True,
    pipeline=pascal_voc_20_test_pipeline)
pascal_voc_20_evaluator = open_vocab_semantic_evaluator
