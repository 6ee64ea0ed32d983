"""Datasets, transforms and samplers. Datasets never import ``psalm.models``: they meet the
model only through ``DetDataSample`` fields (see ``psalm.models.condition_prompt`` and the model
card)."""
from .coco_panoptic import PSALMCocoPanopticDataset
from .grefcoco import GRefCocoDataset
from .joint_dataset import JointTaskDataset
from .llava_instruct import LLaVAInstructDataset
from .refcoco import PSALMRefCocoDataset
from .samplers import TaskRatioBatchSampler
from .transforms import (LoadOptionalImage, LoadPanopticSegments, LoadVisualPrompts,
                         PackPSALMInputs, decode_mask)

__all__ = [
    'PSALMCocoPanopticDataset', 'PSALMRefCocoDataset', 'GRefCocoDataset', 'JointTaskDataset',
    'LLaVAInstructDataset',
    'TaskRatioBatchSampler', 'LoadOptionalImage', 'LoadPanopticSegments', 'LoadVisualPrompts',
    'PackPSALMInputs', 'decode_mask'
]
