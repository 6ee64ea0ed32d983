# psalm_tiny_phi_joint_record-tasks.py with a training process that dies (SIGKILL, no cleanup)
# right before its 4th iteration, for tests/test_tools/test_resume_equality.py.
_base_ = './psalm_tiny_phi_joint_record-tasks.py'

custom_imports = dict(
    imports=['psalm', 'psalm.testing.task_record_hook', 'psalm.testing.kill_at_iter_hook'])
custom_hooks = [dict(type='TaskRecordHook'), dict(type='KillAtIterHook', iteration=4)]
