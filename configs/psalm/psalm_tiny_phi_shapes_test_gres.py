# Evaluates a checkpoint of psalm_tiny_phi_shapes_joint.py on the shapes val split, gres task:
#   python tools/test.py configs/psalm/psalm_tiny_phi_shapes_test_gres.py CHECKPOINT
_base_ = './psalm_tiny_phi_shapes_joint.py'

# The no-target decision is "no query's fused score above no_target_thr"; 0.6 is the reference's
# fusion threshold. tools/shapes_benchmark.py replaces it (model.test_cfg.postprocess.gres.0.
# no_target_thr) by the threshold of best balanced accuracy on train sentences (GRESMetric's
# sweep); the evaluator reports the reference's 0.6 beside it.
model = dict(test_cfg=dict(postprocess=dict(
    gres=[dict(type='GRESPostProcessor', no_target_thr=0.6)])))
test_dataloader = dict(dataset=dict(_base_.shapes_gres_val, _delete_=True))
test_evaluator = dict(_base_.shapes_gres_evaluator, _delete_=True, no_target_thrs=[0.6])
