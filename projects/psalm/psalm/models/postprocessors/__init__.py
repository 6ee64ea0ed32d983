from .instance import InstancePostProcessor
from .interactive import InteractivePostProcessor
from .panoptic import PanopticPostProcessor
from .referring import GRESPostProcessor, ReferringPostProcessor
from .semantic import SemanticPostProcessor
from .utils import mask_logits_to_image, mask_quality
from .vos import VOSPostProcessor

__all__ = [
    'PanopticPostProcessor', 'InstancePostProcessor', 'SemanticPostProcessor',
    'ReferringPostProcessor', 'GRESPostProcessor', 'InteractivePostProcessor',
    'mask_logits_to_image', 'mask_quality'
]
