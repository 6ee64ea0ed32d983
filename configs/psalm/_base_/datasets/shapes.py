# "shapes", the synthetic multi-task benchmark (issue #6): scenes of coloured circles, squares,
# triangles and stars on sky / grass / wall backgrounds, in the real datasets' formats. Made by
#   python tools/dataset_converters/generate_shapes.py data/shapes   (2000 train / 200 val, 128 px)
# Layout (data/shapes/):
#   train/, val/                                  images (<split>_000000.jpg ...)
#   annotations/panoptic_{train,val}.json + annotations/panoptic_{train,val}/*.png
#   annotations/instances_{train,val}.json        things only (RLE)
#   refer/instances.json, refer/refs.json, refer/grefs.json    both splits, 'split' field
#   coco_interactive_{train,val}_psalm.json       built by build_coco_interactive.py
#   llava/shapes_instruct_{train,val}.json        questions about the scene (counting, colour...)
# Variables are named per dataset (shapes_*) so that this base can be inherited with others;
# dataloaders are assembled by the runnable configs. The transforms are the COCO bases' ones with
# the full model's scale: a small-canvas config sets each Resize's scale (the images are 128 px).
shapes_root = 'data/shapes/'
shapes_image_scale = (1024, 1024)
# Must match psalm.datasets.shapes_generator.THING_CLASSES / STUFF_CLASSES (things first).
shapes_metainfo = dict(
    classes=('circle', 'square', 'triangle', 'star', 'sky', 'grass', 'wall'),
    thing_classes=('circle', 'square', 'triangle', 'star'),
    stuff_classes=('sky', 'grass', 'wall'))

# Panoptic (category condition): every thing and stuff segment is a target.
shapes_panoptic_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadPanopticSegments', with_bbox=True, with_mask=True, with_seg=False),
    dict(type='Resize', scale=shapes_image_scale, keep_ratio=True),
    dict(type='PackPSALMInputs'),
]
shapes_panoptic_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=shapes_image_scale, keep_ratio=True),
    dict(type='LoadPanopticSegments', with_bbox=False, with_mask=False, with_seg=True),
    dict(type='PackPSALMInputs', meta_keys=('segments_info', )),
]
shapes_panoptic_train = dict(
    type='PSALMCocoPanopticDataset',
    data_root=shapes_root,
    metainfo=shapes_metainfo,
    ann_file='annotations/panoptic_train.json',
    data_prefix=dict(img='train/', seg='annotations/panoptic_train/'),
    filter_cfg=dict(filter_empty_gt=True, min_size=32),
    pipeline=shapes_panoptic_train_pipeline)
shapes_panoptic_val = dict(
    type='PSALMCocoPanopticDataset',
    data_root=shapes_root,
    metainfo=shapes_metainfo,
    ann_file='annotations/panoptic_val.json',
    data_prefix=dict(img='val/', seg='annotations/panoptic_val/'),
    test_mode=True,
    pipeline=shapes_panoptic_test_pipeline)
shapes_panoptic_evaluator = dict(
    type='CocoPanopticMetric',
    ann_file=shapes_root + 'annotations/panoptic_val.json',
    seg_prefix=shapes_root + 'annotations/panoptic_val/')

# Referring (sentence condition). Every expression identifies exactly one thing, and so does each
# of its 2-3 sentences on its own (checked by the generator). Training draws one sentence per
# access (per_ref + sample_sentence) and evaluation scores each sentence alone (per_sentence), so
# train and test see the same kind of text and no sentence can lean on an easier sibling.
shapes_referring_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=shapes_image_scale, keep_ratio=True),
    dict(type='PackPSALMInputs'),
]
# Evaluation: annotations loaded after Resize (masks at the original size, in the metainfo).
shapes_referring_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=shapes_image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackPSALMInputs', meta_keys=('gt_masks', 'ref_id', 'sent_id')),
]
shapes_referring_train = dict(
    type='PSALMRefCocoDataset',
    data_root=shapes_root,
    data_prefix=dict(img_path='train/'),
    ann_file='refer/instances.json',
    split_file='refer/refs.json',
    split='train',
    protocol='per_ref',
    sample_sentence=True,
    pipeline=shapes_referring_train_pipeline)
shapes_referring_val = dict(
    type='PSALMRefCocoDataset',
    data_root=shapes_root,
    data_prefix=dict(img_path='val/'),
    ann_file='refer/instances.json',
    split_file='refer/refs.json',
    split='val',
    protocol='per_sentence',
    test_mode=True,
    pipeline=shapes_referring_test_pipeline)
shapes_referring_evaluator = dict(type='ReferringSegMetric')

# Generalised referring: several ('all green objects'), one, or no target ('the yellow star'
# where there is none; ~20 % of the expressions), two sentences each, one sample per sentence.
shapes_gres_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=shapes_image_scale, keep_ratio=True),
    dict(type='PackPSALMInputs', meta_keys=('no_target', )),
]
shapes_gres_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=shapes_image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackPSALMInputs', meta_keys=('gt_masks', 'no_target', 'ref_id', 'sent_id')),
]
shapes_gres_train = dict(
    type='GRefCocoDataset',
    data_root=shapes_root,
    data_prefix=dict(img_path='train/'),
    ann_file='refer/instances.json',
    split_file='refer/grefs.json',
    split='train',
    protocol='per_sentence',
    pipeline=shapes_gres_train_pipeline)
shapes_gres_val = dict(
    type='GRefCocoDataset',
    data_root=shapes_root,
    data_prefix=dict(img_path='val/'),
    ann_file='refer/instances.json',
    split_file='refer/grefs.json',
    split='val',
    protocol='per_sentence',
    test_mode=True,
    pipeline=shapes_gres_test_pipeline)
shapes_gres_evaluator = dict(type='GRESMetric')

# Interactive (visual-prior condition): every thing is a region with a point, scribble, box and
# mask prompt (the builder's rules scaled to 128 px, points inside the target). The prompt radii
# are the reference's 10 / 5 px on ~640-px COCO images scaled to the 128-px scenes.
shapes_interactive_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=shapes_image_scale, keep_ratio=True),
    dict(type='LoadVisualPrompts', point_radius=2, scribble_radius=1),
    dict(type='PackPSALMInputs'),
]
shapes_interactive_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=shapes_image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='LoadVisualPrompts', point_radius=2, scribble_radius=1),
    dict(type='PackPSALMInputs', meta_keys=('gt_masks', 'prompt_type')),
]
shapes_interactive_train = dict(
    type='CocoInteractiveDataset',
    data_root=shapes_root,
    ann_file='coco_interactive_train_psalm.json',
    data_prefix=dict(img='train/'),
    prompt_type='random',
    pipeline=shapes_interactive_train_pipeline)
# Evaluation: one prompt type per dataset (the reference's --region_mask_type).
shapes_interactive_val_point = dict(
    type='CocoInteractiveDataset',
    data_root=shapes_root,
    ann_file='coco_interactive_val_psalm.json',
    data_prefix=dict(img='val/'),
    prompt_type='point',
    test_mode=True,
    pipeline=shapes_interactive_test_pipeline)
shapes_interactive_val_scribble = dict(shapes_interactive_val_point, prompt_type='scribble')
shapes_interactive_val_box = dict(shapes_interactive_val_point, prompt_type='box')
shapes_interactive_val_mask = dict(shapes_interactive_val_point, prompt_type='mask')
shapes_interactive_evaluator = dict(type='InteractiveSegMetric')

# Instruction following (text answers): 'How many circles are there?' -> '2', 'What colour is
# the square?' -> 'red', ... One question per sample, for half of the images.
shapes_instruct_pipeline = [
    dict(type='LoadOptionalImage'),
    dict(type='Resize', scale=shapes_image_scale, keep_ratio=True),
    dict(type='PackPSALMInputs'),
]
shapes_instruct_train = dict(
    type='LLaVAInstructDataset',
    data_root=shapes_root,
    ann_file='llava/shapes_instruct_train.json',
    data_prefix=dict(img=''),  # image paths in the json are relative to data_root ('train/...')
    pipeline=shapes_instruct_pipeline)
shapes_instruct_val = dict(
    type='LLaVAInstructDataset',
    data_root=shapes_root,
    ann_file='llava/shapes_instruct_val.json',
    data_prefix=dict(img=''),
    test_mode=True,
    pipeline=shapes_instruct_pipeline)
