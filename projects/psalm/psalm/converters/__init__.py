"""Checkpoint converters: the released PSALM (HF format) and detectron2's Mask2Former into this
project's names. The command-line tools in ``tools/model_converters`` are thin wrappers."""
from ._common import ConversionError
from .mask2former_d2 import convert_checkpoint as convert_mask2former_d2
from .mask2former_d2 import convert_d2_state_dict, load_d2_pickle
from .psalm_hf import build_released_tokenizer
from .psalm_hf import convert_checkpoint as convert_psalm_hf
from .psalm_hf import (convert_state_dict, infer_model_overrides, read_hf_config,
                       split_fused_qkv)

__all__ = [
    'ConversionError', 'convert_psalm_hf', 'convert_state_dict', 'infer_model_overrides',
    'read_hf_config', 'split_fused_qkv', 'build_released_tokenizer', 'convert_mask2former_d2',
    'convert_d2_state_dict', 'load_d2_pickle'
]
