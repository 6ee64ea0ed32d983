"""Datasets, transforms and samplers. Datasets never import ``psalm.models``: they meet the
model only through ``DetDataSample`` fields (see ``psalm.models.condition_prompt`` and the model
card)."""
from .class_names import load_class_names
from .coco_interactive import CocoInteractiveDataset
from .coco_panoptic import PSALMCocoPanopticDataset
from .davis import DAVISDataset, LoadDAVISAnnotations
from .grefcoco import GRefCocoDataset
from .joint_dataset import JointTaskDataset
from .llava_instruct import LLaVAInstructDataset
from .open_vocab import (OpenVocabMixin, PSALMADE20KInstanceDataset, PSALMADE20KPanopticDataset,
                         PSALMADE20KSegDataset, PSALMCityscapesInstanceDataset,
                         PSALMCityscapesSegDataset, PSALMPascalContext59Dataset,
                         PSALMPascalContext459Dataset, PSALMPascalVOC20Dataset)
from .refcoco import PSALMRefCocoDataset
from .samplers import TaskRatioBatchSampler
from .transforms import (LoadOptionalImage, LoadPanopticSegments, LoadVisualPrompts,
                         PackPSALMInputs, decode_mask)

__all__ = [
    'load_class_names', 'CocoInteractiveDataset', 'DAVISDataset', 'LoadDAVISAnnotations',
    'OpenVocabMixin', 'PSALMADE20KInstanceDataset', 'PSALMADE20KPanopticDataset',
    'PSALMADE20KSegDataset', 'PSALMCityscapesInstanceDataset', 'PSALMCityscapesSegDataset',
    'PSALMPascalContext59Dataset', 'PSALMPascalContext459Dataset', 'PSALMPascalVOC20Dataset',
    'PSALMCocoPanopticDataset', 'PSALMRefCocoDataset', 'GRefCocoDataset', 'JointTaskDataset',
    'LLaVAInstructDataset',
    'TaskRatioBatchSampler', 'LoadOptionalImage', 'LoadPanopticSegments', 'LoadVisualPrompts',
    'PackPSALMInputs', 'decode_mask'
]
