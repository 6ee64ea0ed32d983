"""Runner components registered in mmdet's registries (test loops, hooks)."""
from .hooks import MainProcessLoggerHook, ResumableCheckpointHook  # noqa: F401
from .vos_test_loop import VOSTestLoop, video_batches

__all__ = ['VOSTestLoop', 'video_batches']
