from .formatting import PSALM_META_KEYS, PackPSALMInputs
from .loading import LoadOptionalImage, LoadPanopticSegments
from .visual_prompts import LoadVisualPrompts, decode_mask

__all__ = [
    'PackPSALMInputs', 'PSALM_META_KEYS', 'LoadOptionalImage', 'LoadPanopticSegments',
    'LoadVisualPrompts', 'decode_mask'
]
