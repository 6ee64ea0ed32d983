default_scope = 'mmdet'
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    # LoggerHook, its test-metrics json written by rank 0 only (every rank wrote the same file)
    logger=dict(type='MainProcessLoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # CheckpointHook + every rank's RNG states (exact resumes) + atomic writes (a kill while
    # saving never leaves a truncated checkpoint for --resume).
    checkpoint=dict(type='ResumableCheckpointHook', by_epoch=False, interval=5000, save_last=True,
                    max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # DetVisualizationHook that never overwrites a picture (several samples per image) and can
    # stop after max_test_images samples
    visualization=dict(type='PSALMVisualizationHook'))
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='DetLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
# Joint batches hold one task: modules of the other tasks get no gradient in that step.
find_unused_parameters = True
