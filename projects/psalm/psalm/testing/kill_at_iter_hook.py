"""Test helper: a training process that dies without warning at a given iteration."""
import os
import signal

from mmengine.hooks import Hook

from mmdet.registry import HOOKS


@HOOKS.register_module()
class KillAtIterHook(Hook):
    """SIGKILLs its own process (no cleanup, no hooks, like a pre-empted job) when iteration
    ``iteration`` (1-based) is about to run, to test resuming. Enable with ``custom_imports``
    of this module and ``custom_hooks=[dict(type='KillAtIterHook', iteration=...)]``."""

    priority = 'HIGHEST'

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if runner.iter + 1 == self.iteration:
            os.kill(os.getpid(), signal.SIGKILL)
