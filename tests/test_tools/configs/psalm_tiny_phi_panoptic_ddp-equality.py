# The tiny PSALM config on panoptic data only, made so that N DDP processes with batch b compute
# exactly what one process computes with batch N*b (tests/test_tools/test_dist_train_equality.py).
# Each change removes a computation that legitimately differs between the two, NOT a bug:
_base_ = '../../../configs/psalm/psalm_tiny_phi_joint.py'

custom_imports = dict(imports=['psalm', 'psalm.testing.param_dump_hook'],
                      allow_failed_imports=False)
model = dict(
    # BatchNorm statistics are per rank (SyncBN has no CPU implementation): GroupNorm is
    # per sample.
    projector=dict(norm_cfg=dict(type='GN', num_groups=8)),
    # Category order is shuffled with numpy's global stream: ranks and the single process would
    # draw different orders for the same sample.
    prompt_encoder=dict(shuffle_categories=False),
    # Random matching / importance-sampling points come from one stream per process: a fixed
    # grid makes the losses independent of how samples are split over processes.
    criterion=dict(point_sampling='grid'))

# One task (per-rank task streams of the joint sampler differ by design), a fixed order:
# InfiniteSampler(shuffle=False) hands rank r the samples r, r+N, ... of 0, 1, 2, ...
train_dataloader = dict(
    _delete_=True,
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=False),
    dataset={{_base_.tiny_panoptic_train}})
# SGD without warmup: parameter changes are proportional to the gradients, so a wrong gradient
# normaliser shows (Adam would normalise a constant factor away).
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=0.05, momentum=0.0))
param_scheduler = None
train_cfg = dict(max_iters=3, val_interval=1000)
val_dataloader = None
val_cfg = None
val_evaluator = None
randomness = dict(seed=0, deterministic=True)
custom_hooks = [dict(type='ParamDumpHook')]  # {work_dir}/params/params_*_rank*.pth
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1000, save_last=False))
