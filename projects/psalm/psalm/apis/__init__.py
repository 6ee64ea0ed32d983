"""Inference APIs: the inferencer of every task and the video object segmentation loop."""
from .inferencer import PSALMInferencer, encode_rle
from .prompts import TASKS, build_data_info, normalize_visual_prompt
from psalm.engine.vos_memory import VOSMemory  # the demo's video memory, one rule with VOSTestLoop
from .video import masks_to_index_map, read_object_masks

__all__ = [
    'PSALMInferencer', 'encode_rle', 'TASKS', 'build_data_info', 'normalize_visual_prompt',
    'VOSMemory', 'masks_to_index_map', 'read_object_masks'
]
