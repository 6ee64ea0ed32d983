# Stack smoke test: mmdet's Mask2Former, shrunk to run on a CPU in seconds, trained and evaluated on
# the generated toy COCO set (`psalm.testing.make_toy_coco`). It exercises mmcv's compiled ops, the
# deformable pixel decoder, the Runner, checkpoint save/resume/test and CocoMetric. Random init only.
_base_ = 'mmdet::mask2former/mask2former_r50_8xb2-lsj-50e_coco.py'

custom_imports = dict(imports=['psalm'], allow_failed_imports=False)

data_root = 'data/toy_coco/'  # override with --cfg-options data_root=... (see tools/smoke_run.py)
image_size = (64, 64)
num_things_classes = 2
embed_dims = 32

model = dict(
    data_preprocessor=dict(
        batch_augments=[
            dict(type='BatchFixedSizePad', size=image_size, img_pad_value=0, pad_mask=True,
                 mask_pad_value=0, pad_seg=False)
        ]),
    backbone=dict(depth=18, base_channels=16, init_cfg=None, norm_cfg=dict(type='BN', requires_grad=True),
                  norm_eval=False),
    panoptic_head=dict(
        in_channels=[16, 32, 64, 128],
        feat_channels=embed_dims,
        out_channels=embed_dims,
        num_things_classes=num_things_classes,
        num_queries=10,
        pixel_decoder=dict(
            norm_cfg=dict(type='GN', num_groups=8),
            encoder=dict(
                num_layers=1,
                layer_cfg=dict(
                    self_attn_cfg=dict(embed_dims=embed_dims, num_heads=4),
                    ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=64))),
            positional_encoding=dict(num_feats=embed_dims // 2)),
        positional_encoding=dict(num_feats=embed_dims // 2),
        transformer_decoder=dict(
            num_layers=2,
            layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=embed_dims, num_heads=4),
                cross_attn_cfg=dict(embed_dims=embed_dims, num_heads=4),
                ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=64))),
        loss_cls=dict(class_weight=[1.0] * num_things_classes + [0.1])),
    panoptic_fusion_head=dict(num_things_classes=num_things_classes),
    train_cfg=dict(num_points=256),
    test_cfg=dict(max_per_image=10))

train_pipeline = [
    dict(type='LoadImageFromFile', to_float32=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', to_float32=True),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
metainfo = dict(classes=('square', 'triangle'))
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    batch_sampler=None,
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file='annotations/instances_train.json',
                 data_prefix=dict(img='train/'), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file='annotations/instances_val.json',
                 data_prefix=dict(img='val/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json', metric=['segm'])
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(lr=1e-3), clip_grad=dict(max_norm=1.0))
max_iters = 4
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters,
                 dynamic_intervals=None)
param_scheduler = dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters, milestones=[max_iters])
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(by_epoch=False, interval=2, save_last=True, max_keep_ckpts=3))
log_processor = dict(window_size=1)
env_cfg = dict(cudnn_benchmark=False)
