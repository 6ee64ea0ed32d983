"""Runner components registered in mmdet's registries (test loops, hooks)."""
from .hooks import (MainProcessLoggerHook, PSALMVisualizationHook,  # noqa: F401
                    ResumableCheckpointHook)
from .vos_memory import VOSMemory, max_pairwise_iou, next_prompts
from .vos_test_loop import VOSTestLoop, video_batches

__all__ = ['VOSMemory', 'VOSTestLoop', 'max_pairwise_iou', 'next_prompts', 'video_batches']
