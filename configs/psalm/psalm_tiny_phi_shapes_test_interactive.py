# Evaluates a checkpoint of psalm_tiny_phi_shapes_joint.py on the shapes val split, interactive task:
#   python tools/test.py configs/psalm/psalm_tiny_phi_shapes_test_interactive.py CHECKPOINT
_base_ = './psalm_tiny_phi_shapes_joint.py'

test_dataloader = dict(dataset=dict(_base_.shapes_interactive_val, _delete_=True))
test_evaluator = dict(_base_.shapes_interactive_evaluator, _delete_=True)
