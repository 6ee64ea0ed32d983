"""The test metrics json is written by the main process only (ranks shared one file)."""
import json
from types import SimpleNamespace

from psalm.engine import hooks as psalm_hooks
from psalm.engine.hooks import MainProcessLoggerHook


class _LogProcessor:
    def get_log_after_epoch(self, runner, length, mode, with_non_scalar=False):
        return {'refseg/cIoU': 50.0, 'time': 0.1}, 'refseg/cIoU: 50.0'


def _runner(log_dir):
    messages = []
    return SimpleNamespace(log_processor=_LogProcessor(), test_dataloader=[0, 1],
                           log_dir=str(log_dir), timestamp='20261206_000000',
                           logger=SimpleNamespace(info=messages.append)), messages


def test_only_the_main_process_writes_the_metrics(tmp_path, monkeypatch):
    hook = MainProcessLoggerHook()
    hook.json_log_path = 'metrics.json'

    monkeypatch.setattr(psalm_hooks.main_process_logger_hook, 'is_main_process', lambda: False)
    runner, messages = _runner(tmp_path)
    hook.after_test_epoch(runner, {'refseg/cIoU': 50.0})
    assert not (tmp_path / 'metrics.json').exists() and not messages

    monkeypatch.setattr(psalm_hooks.main_process_logger_hook, 'is_main_process', lambda: True)
    runner, messages = _runner(tmp_path)
    hook.after_test_epoch(runner, {'refseg/cIoU': 50.0})
    assert json.loads((tmp_path / 'metrics.json').read_text()) == {'refseg/cIoU': 50.0,
                                                                   'time': 0.1}
    assert messages == ['refseg/cIoU: 50.0']
