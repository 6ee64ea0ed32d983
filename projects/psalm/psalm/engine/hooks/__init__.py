"""Runner hooks registered in mmdet's ``HOOKS``."""
from .resumable_checkpoint_hook import ResumableCheckpointHook

__all__ = ['ResumableCheckpointHook']
