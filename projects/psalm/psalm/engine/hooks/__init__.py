"""Runner hooks registered in mmdet's ``HOOKS``."""
from .main_process_logger_hook import MainProcessLoggerHook
from .resumable_checkpoint_hook import ResumableCheckpointHook

__all__ = ['MainProcessLoggerHook', 'ResumableCheckpointHook']
