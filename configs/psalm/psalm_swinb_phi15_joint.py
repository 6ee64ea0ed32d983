# PSALM, Swin-B + Phi-1.5, stage-2 joint training (panoptic, referring, interactive, instruction).
_base_ = [
    './_base_/models/psalm_swinb_phi15.py', './_base_/datasets/joint.py',
    './_base_/schedules/joint_56k.py', './_base_/default_runtime.py'
]
