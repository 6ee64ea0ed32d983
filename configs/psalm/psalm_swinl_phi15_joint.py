# PSALM with a Swin-L backbone (Mask2Former's Swin-L IN21k 384 layout) instead of Swin-B.
_base_ = './psalm_swinb_phi15_joint.py'

model = dict(
    backbone=dict(embed_dims=192, num_heads=[6, 12, 24, 48]),
    projector=dict(in_channels=1536),
    mask_generator=dict(in_channels=[192, 384, 768, 1536]))
