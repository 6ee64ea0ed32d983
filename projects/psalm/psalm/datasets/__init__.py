"""Datasets and transforms. Datasets never import ``psalm.models``: they meet the model only
through ``DetDataSample`` fields (see ``psalm.models.condition_prompt`` and the model card)."""
from .transforms import LoadVisualPrompts, PackPSALMInputs, decode_mask

__all__ = ['LoadVisualPrompts', 'PackPSALMInputs', 'decode_mask']
