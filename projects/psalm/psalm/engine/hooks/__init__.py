"""Runner hooks registered in mmdet's ``HOOKS``."""
from .condition_path_init_hook import ConditionPathInitHook
from .main_process_logger_hook import MainProcessLoggerHook
from .resumable_checkpoint_hook import ResumableCheckpointHook
from .visualization_hook import PSALMVisualizationHook

__all__ = [
    'ConditionPathInitHook', 'MainProcessLoggerHook', 'PSALMVisualizationHook',
    'ResumableCheckpointHook'
]
