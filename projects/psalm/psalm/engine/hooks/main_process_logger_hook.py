"""MMEngine's LoggerHook, with the test metrics json written by the main process only."""
from typing import Dict, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import LoggerHook

from mmdet.registry import HOOKS


@HOOKS.register_module()
class MainProcessLoggerHook(LoggerHook):
    """``LoggerHook`` whose ``after_test_epoch`` runs on the main process only.

    MMEngine 0.10's hook dumps the test metrics to ``<log_dir>/<timestamp>.json`` on every rank.
    The ranks share that path, and two writers truncating and writing the same file at once leave
    it unreadable (the shorter text followed by the tail of the longer one, e.g. ``...}}``). The
    metrics are the same on every rank (the evaluator broadcasts them), so one writer loses
    nothing.
    """

    def after_test_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        if is_main_process():
            super().after_test_epoch(runner, metrics)
