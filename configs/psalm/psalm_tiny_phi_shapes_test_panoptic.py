# Evaluates a checkpoint of psalm_tiny_phi_shapes_joint.py on the shapes val split, panoptic task:
#   python tools/test.py configs/psalm/psalm_tiny_phi_shapes_test_panoptic.py CHECKPOINT
_base_ = './psalm_tiny_phi_shapes_joint.py'

test_dataloader = dict(dataset=dict(_base_.shapes_panoptic_val, _delete_=True))
test_evaluator = dict(_base_.shapes_panoptic_evaluator, _delete_=True)
