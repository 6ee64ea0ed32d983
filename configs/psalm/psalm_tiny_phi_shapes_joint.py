# The main job (issue #6): the tiny PSALM trained jointly on the synthetic "shapes" benchmark,
# panoptic + referring + generalized referring + interactive + conversation batches, on a CPU.
#   python tools/shapes_benchmark.py      (generates data/shapes, trains, evaluates every task)
# Same model code and joint-training loop as the full config; only sizes and the schedule differ,
# plus what training from scratch needs: no pretrained weights exist at these sizes, so the
# backbone trains (with the others' lr) and the lr is that of a small network trained from zero.
_base_ = ['./psalm_tiny_phi_joint.py', './_base_/datasets/shapes.py']

canvas_size = (128, 128)
model = dict(freeze_backbone=False)

# The shapes bases use the full model's Resize scale; the scenes are drawn at 128 px.
_shapes_pipelines = [
    _base_.shapes_panoptic_train_pipeline, _base_.shapes_panoptic_test_pipeline,
    _base_.shapes_referring_train_pipeline, _base_.shapes_referring_test_pipeline,
    _base_.shapes_gres_train_pipeline, _base_.shapes_gres_test_pipeline,
    _base_.shapes_interactive_train_pipeline, _base_.shapes_interactive_test_pipeline,
    _base_.shapes_instruct_pipeline
]
for _pipeline in _shapes_pipelines:
    for _t in _pipeline:
        if _t['type'] == 'Resize':
            _t['scale'] = canvas_size
shapes_panoptic_train = dict(_base_.shapes_panoptic_train, filter_cfg=dict(min_size=8),
                             pipeline=_base_.shapes_panoptic_train_pipeline)
shapes_panoptic_val = dict(_base_.shapes_panoptic_val, pipeline=_base_.shapes_panoptic_test_pipeline)
shapes_referring_train = dict(_base_.shapes_referring_train,
                              pipeline=_base_.shapes_referring_train_pipeline)
shapes_referring_val = dict(_base_.shapes_referring_val,
                            pipeline=_base_.shapes_referring_test_pipeline)
shapes_gres_train = dict(_base_.shapes_gres_train, pipeline=_base_.shapes_gres_train_pipeline)
shapes_gres_val = dict(_base_.shapes_gres_val, pipeline=_base_.shapes_gres_test_pipeline)
shapes_interactive_train = dict(_base_.shapes_interactive_train,
                                pipeline=_base_.shapes_interactive_train_pipeline)
shapes_interactive_val = dict(
    type='ConcatDataset',  # one pass per prompt type; the metric reports each type
    datasets=[
        dict(_base_.shapes_interactive_val_point, prompt_type=t,
             pipeline=_base_.shapes_interactive_test_pipeline)
        for t in ('point', 'scribble', 'box', 'mask')
    ])
shapes_instruct_train = dict(_base_.shapes_instruct_train, pipeline=_base_.shapes_instruct_pipeline)

train_dataloader = dict(
    _delete_=True,
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    batch_sampler=dict(type='TaskRatioBatchSampler', ratios=[2, 2, 1, 2, 0.5]),
    dataset=dict(
        type='JointTaskDataset',
        tasks=['panoptic', 'referring', 'gres', 'interactive', 'conversation'],
        datasets=[
            shapes_panoptic_train, shapes_referring_train, shapes_gres_train,
            shapes_interactive_train, shapes_instruct_train
        ]))

# Validation at the end of training on panoptic; every task: tools/shapes_benchmark.py or the
# psalm_tiny_phi_shapes_test_<task>.py configs.
val_dataloader = dict(batch_size=8, num_workers=1, persistent_workers=False,
                      dataset=shapes_panoptic_val)
test_dataloader = val_dataloader
val_evaluator = _base_.shapes_panoptic_evaluator
test_evaluator = val_evaluator

max_iters = 3000
warmup_iters = 100
optim_wrapper = dict(
    optimizer=dict(lr=1e-3),
    clip_grad=dict(_delete_=True, max_norm=1.0),
    paramwise_cfg=dict(custom_keys=dict(backbone=dict(lr_mult=1.0))))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=warmup_iters, end=max_iters,
         T_max=max_iters - warmup_iters, eta_min=0.0)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(interval=1000, max_keep_ckpts=1, save_last=True))
visualizer = dict(type='PSALMLocalVisualizer')
