# Evaluation of the released model on one benchmark: the model, the runtime and a sequential test
# loader. Each configs/psalm/psalm_swinb_phi15_test_<benchmark>.py adds its dataset base, sets
# test_dataloader.dataset and test_evaluator. Any batch size gives the same numbers.
_base_ = ['./models/psalm_swinb_phi15.py', './default_runtime.py']

test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False))  # + dataset=... per benchmark
test_cfg = dict(type='TestLoop')
