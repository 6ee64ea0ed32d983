# The tiny joint config that records the task of every training batch ({work_dir}/tasks_rank*.txt)
# and skips validation, for tests/test_tools/test_resume_equality.py.
_base_ = '../../../configs/psalm/psalm_tiny_phi_joint.py'

custom_imports = dict(imports=['psalm', 'psalm.testing.task_record_hook'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='TaskRecordHook')]
val_dataloader = None
val_cfg = None
val_evaluator = None
