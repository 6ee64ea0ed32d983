"""mmengine checkpoints load under torch's weights_only default; anything else stays refused."""
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner.checkpoint import CheckpointLoader

import psalm  # noqa: F401  (registers the allow-list)
from psalm.utils.safe_loading import _history_buffer_getattr


class _NotAllowed:
    pass


def _mmengine_like_checkpoint() -> dict:
    hub = MessageHub.get_instance('test_safe_loading')
    hub.update_scalar('train/loss', 1.5)
    hub.update_scalar('train/lr', np.float64(0.01))
    hub.update_info('iter', 7)
    return dict(meta=dict(iter=7, seed=np.int64(3)), state_dict={'w': torch.ones(2)},
                message_hub=hub.state_dict())


def test_mmengine_checkpoint_loads_with_weights_only(tmp_path):
    path = tmp_path / 'ckpt.pth'
    torch.save(_mmengine_like_checkpoint(), path)
    ckpt = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    buf = ckpt['message_hub']['log_scalars']['train/loss']
    assert isinstance(buf, HistoryBuffer)
    assert buf.mean() == pytest.approx(1.5)
    assert ckpt['meta']['seed'] == 3
    torch.testing.assert_close(ckpt['state_dict']['w'], torch.ones(2))


def test_unknown_globals_are_still_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'payload': _NotAllowed()}, path)
    with pytest.raises(pickle.UnpicklingError):
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')


def test_getattr_is_restricted_to_history_buffer_statistics():
    assert _history_buffer_getattr(HistoryBuffer, 'mean') is HistoryBuffer.mean
    with pytest.raises(pickle.UnpicklingError):
        _history_buffer_getattr(HistoryBuffer, '__init__')
    with pytest.raises(pickle.UnpicklingError):
        _history_buffer_getattr(np, 'load')
