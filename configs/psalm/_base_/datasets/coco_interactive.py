# COCO-Interactive for the visual-prior condition (CocoInteractiveDataset): COCO instances prompted
# by points, scribbles, boxes or masks (paper 4.1, appendix 8). Variables are named per dataset so
# that several dataset bases can be inherited together.
# Layout (the reference's file names; images are COCO 2017):
#   data/coco/coco_interactive_{train,val}_psalm.json    released with the reference, or built with
#       tools/dataset_converters/build_coco_interactive.py \
#           data/coco/annotations/instances_{train,val}2017.json \
#           data/coco/coco_interactive_{train,val}_psalm.json --nproc 8
#   data/coco/{train,val}2017/*.jpg
coco_interactive_root = 'data/coco/'
coco_interactive_image_scale = (1024, 1024)  # long side to 1024; the model pads to 1024x1024

# Prompts are drawn at the original size (points dilated to radius 10, scribbles to 5), then
# resized with nearest interpolation; region k's target is instance k.
coco_interactive_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=coco_interactive_image_scale, keep_ratio=True),
    dict(type='LoadVisualPrompts'),
    dict(type='PackPSALMInputs'),
]
# Evaluation: annotations are loaded *after* Resize, so the targets stay at the original size
# (ori_shape), where predictions are scored; InteractiveSegMetric reads them and the prompt types
# from the metainfo.
coco_interactive_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=coco_interactive_image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='LoadVisualPrompts'),
    dict(type='PackPSALMInputs', meta_keys=('gt_masks', 'prompt_type')),
]

# Training (reference): every instance of the image is a region, its prompt type drawn among its
# non-empty ones each time the image is drawn.
coco_interactive_train = dict(
    type='CocoInteractiveDataset',
    data_root=coco_interactive_root,
    ann_file='coco_interactive_train_psalm.json',
    data_prefix=dict(img='train2017/'),
    prompt_type='random',
    pipeline=coco_interactive_train_pipeline)
# Evaluation: one prompt type per run (the reference's --region_mask_type); regions without a
# prompt of that type are skipped. Other types, e.g. with --cfg-options:
#   test_dataloader.dataset.prompt_type=scribble      (or box, mask)
coco_interactive_val = dict(
    type='CocoInteractiveDataset',
    data_root=coco_interactive_root,
    ann_file='coco_interactive_val_psalm.json',
    data_prefix=dict(img='val2017/'),
    prompt_type='point',
    test_mode=True,
    pipeline=coco_interactive_test_pipeline)
coco_interactive_evaluator = dict(type='InteractiveSegMetric')
# Dataloaders are assembled by the runnable configs (joint training, one evaluation config per
# benchmark).
