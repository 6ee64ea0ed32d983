"""Runner hooks registered in mmdet's ``HOOKS``."""
from .main_process_logger_hook import MainProcessLoggerHook
from .resumable_checkpoint_hook import ResumableCheckpointHook
from .visualization_hook import PSALMVisualizationHook

__all__ = ['MainProcessLoggerHook', 'PSALMVisualizationHook', 'ResumableCheckpointHook']
