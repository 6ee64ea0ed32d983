# The backbone of the tiny shapes model and of its pretraining (psalm_tiny_shapes_backbone-pretrain.py):
# mmdet's ResNet-18 at half width (channels 32-256), trained from zero on a CPU.
tiny_resnet18 = dict(
    type='ResNet',
    depth=18,
    base_channels=32,
    num_stages=4,
    out_indices=(0, 1, 2, 3),
    frozen_stages=-1,
    style='pytorch',
    norm_cfg=dict(type='BN', requires_grad=True),
    norm_eval=False,
    init_cfg=None)
tiny_resnet18_channels = [32, 64, 128, 256]
