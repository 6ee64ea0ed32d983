from .formatting import PSALM_META_KEYS, PackPSALMInputs
from .visual_prompts import LoadVisualPrompts, decode_mask

__all__ = ['PackPSALMInputs', 'PSALM_META_KEYS', 'LoadVisualPrompts', 'decode_mask']
