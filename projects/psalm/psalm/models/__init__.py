from .condition_prompt import (Condition, ConditionPromptEncoder, PromptBatch, region_pooling,
                               sample_region_points)
from .criterion import PSALMCriterion
from .data_preprocessor import PSALMDataPreprocessor
from .language_model import HFCausalLM, build_tokenizer, gpt2_bpe_files
from .mask_generator import PSALMMaskGenerator
from .pixel_decoder import PSALMPixelDecoder
from .postprocessors import (GRESPostProcessor, InstancePostProcessor, InteractivePostProcessor,
                             PanopticPostProcessor, ReferringPostProcessor, SemanticPostProcessor)
from .projector import SwinConvProjector
from .psalm import PSALM
from .region_classifier import RegionClassifier, mask_pooled_features

__all__ = [
    'PSALM', 'PSALMDataPreprocessor', 'SwinConvProjector', 'HFCausalLM', 'build_tokenizer', 'gpt2_bpe_files',
    'ConditionPromptEncoder', 'Condition', 'PromptBatch', 'region_pooling',
    'sample_region_points', 'PSALMMaskGenerator', 'PSALMPixelDecoder', 'PSALMCriterion',
    'PanopticPostProcessor', 'InstancePostProcessor', 'SemanticPostProcessor',
    'ReferringPostProcessor', 'GRESPostProcessor', 'InteractivePostProcessor', 'RegionClassifier',
    'mask_pooled_features'
]
