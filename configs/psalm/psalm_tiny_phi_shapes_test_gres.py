# Evaluates a checkpoint of psalm_tiny_phi_shapes_joint.py on the shapes val split, gres task:
#   python tools/test.py configs/psalm/psalm_tiny_phi_shapes_test_gres.py CHECKPOINT
_base_ = './psalm_tiny_phi_shapes_joint.py'

test_dataloader = dict(dataset=dict(_base_.shapes_gres_val, _delete_=True))
test_evaluator = dict(_base_.shapes_gres_evaluator, _delete_=True)
