# Stage 0 of the shapes benchmark: pretrain the tiny backbone by classifying the ground-truth
# segments of the shapes train split from their mask-pooled features (RegionClassifier), the
# stand-in for the ImageNet / COCO pretraining that the released model's Swin-B had.
#   python tools/train.py configs/psalm/psalm_tiny_shapes_backbone-pretrain.py --work-dir W
# then psalm_tiny_phi_shapes_joint.py loads W/iter_3000.pth into its backbone (tools/shapes_benchmark.py
# does both). Val images are never used.
_base_ = [
    './_base_/default_runtime.py', './_base_/datasets/shapes.py', './_base_/models/tiny_resnet18.py',
    './_base_/models/psalm_swinb_phi15.py'  # for its data preprocessor only
]

canvas_size = (128, 128)
model = dict(
    _delete_=True,
    type='RegionClassifier',
    backbone=_base_.tiny_resnet18,
    in_channels=_base_.tiny_resnet18_channels,
    num_classes=len(_base_.shapes_metainfo['classes']),
    levels=(1, 2, 3),  # strides 8, 16, 32: what the pixel decoder and the LLM read
    # Also regress each segment's mean colour and log area: with shape labels alone the stride-32
    # features lose colour (a linear probe tells it 55 % after 1500 iterations), which referring
    # expressions name; with the regression they keep it (96 %) while learning shapes (87-94 %
    # after 3000 iterations). Model card, "Main job and where it stands".
    appearance_weight=1.0,
    # PSALM's preprocessing: same normalisation and padding, on the tiny model's canvas
    data_preprocessor=dict(_base_.model.data_preprocessor, canvas_size=canvas_size))

_pipeline = _base_.shapes_panoptic_train_pipeline
for _t in _pipeline:
    if _t['type'] == 'Resize':
        _t['scale'] = canvas_size
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(_base_.shapes_panoptic_train, filter_cfg=dict(min_size=8), pipeline=_pipeline))

max_iters = 3000
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.01,
                                    fused=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=max_iters, T_max=max_iters - 100,
         eta_min=0.0)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
val_cfg = val_dataloader = val_evaluator = None
test_cfg = test_dataloader = test_evaluator = None
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(interval=max_iters, max_keep_ckpts=1, save_last=True))
# The main job is a benchmark: the same command gives the same run (the data are seeded too).
randomness = dict(seed=0)
