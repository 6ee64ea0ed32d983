# COCO panoptic for the category condition. Variables are named per dataset so that several
# dataset bases can be inherited together (the joint config assembles them).
coco_root = 'data/coco/'
image_scale = (1024, 1024)  # long side to 1024; the model pads to the 1024x1024 canvas

coco_panoptic_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadPanopticSegments', with_bbox=True, with_mask=True, with_seg=False),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='PackPSALMInputs'),
]
coco_panoptic_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='LoadPanopticSegments', with_bbox=False, with_mask=False, with_seg=True),
    dict(type='PackPSALMInputs', meta_keys=('segments_info', )),
]
coco_panoptic_train = dict(
    type='PSALMCocoPanopticDataset',
    data_root=coco_root,
    ann_file='annotations/panoptic_train2017.json',
    data_prefix=dict(img='train2017/', seg='annotations/panoptic_train2017/'),
    filter_cfg=dict(filter_empty_gt=True, min_size=32),
    pipeline=coco_panoptic_train_pipeline)
coco_panoptic_val = dict(
    type='PSALMCocoPanopticDataset',
    data_root=coco_root,
    ann_file='annotations/panoptic_val2017.json',
    data_prefix=dict(img='val2017/', seg='annotations/panoptic_val2017/'),
    test_mode=True,
    pipeline=coco_panoptic_test_pipeline)
