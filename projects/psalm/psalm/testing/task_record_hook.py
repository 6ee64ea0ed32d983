"""Test helper: the task of every training batch, one line per iteration."""
import os
import os.path as osp

from mmengine.dist import get_rank
from mmengine.hooks import Hook

from mmdet.registry import HOOKS


@HOOKS.register_module()
class TaskRecordHook(Hook):
    """Appends ``"<iteration> <task>"`` to ``{work_dir}/tasks_rank{r}.txt`` before each training
    iteration (written through at once, so a killed run keeps what it trained), to check that
    a resumed joint run continues the sampler's task sequence."""

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        tasks = {s.metainfo['task'] for s in data_batch['data_samples']}
        os.makedirs(runner.work_dir, exist_ok=True)
        with open(osp.join(runner.work_dir, f'tasks_rank{get_rank()}.txt'), 'a') as f:
            f.write(f'{runner.iter + 1} {",".join(sorted(tasks))}\n')
            f.flush()
