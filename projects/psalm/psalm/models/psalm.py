"""The PSALM detector: wires backbone, projector, LLM, condition prompts and mask generator.

Data flows one way::

    image -> backbone -> projector -> image tokens --+
    prompts (metainfo) -> ConditionPromptEncoder ----+-> LLM -> mask queries + conditions
    backbone features + mask queries + conditions -> mask generator -> masks and scores
    -> training: PSALMCriterion | inference: task post-processors -> DetDataSample
"""
import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.detectors import BaseDetector
from mmdet.registry import MODELS, TASK_UTILS
from mmdet.structures import DetDataSample, OptSampleList, SampleList
from .condition_prompt import PromptBatch
from .criterion import reduce_mean_counts
from .postprocessors import mask_logits_to_image

# Post-processors per task, after the reference (`seg_task=panoptic` turns all three on).
DEFAULT_POSTPROCESS = dict(
    panoptic=[dict(type='PanopticPostProcessor'), dict(type='InstancePostProcessor'),
              dict(type='SemanticPostProcessor')],
    instance=[dict(type='InstancePostProcessor', things_only=False)],
    semantic=[dict(type='SemanticPostProcessor')],
    referring=[dict(type='ReferringPostProcessor')],
    gres=[dict(type='GRESPostProcessor')],
    interactive=[dict(type='InteractivePostProcessor')],
    vos=[dict(type='InteractivePostProcessor')])


@MODELS.register_module()
class PSALM(BaseDetector):
    """PSALM: Pixelwise SegmentAtion with Large Multi-modal model (ECCV 2024).

    Args:
        backbone: any mmdet/mmpretrain backbone returning 4 levels (strides 4..32).
        projector: vision-language projector (e.g. ``SwinConvProjector``).
        language_model: the LLM wrapper (``HFCausalLM``).
        prompt_encoder: the ``ConditionPromptEncoder``.
        mask_generator: the ``PSALMMaskGenerator``.
        criterion: the ``PSALMCriterion``.
        freeze_backbone: no gradients and eval mode for the backbone (reference default).
        llm_feature_index: backbone level fed to the projector (3 = res5).
        test_cfg: ``postprocess`` (task -> list of post-processor configs), ``rescale``,
            ``generation`` kwargs for text answers.
    """

    def __init__(self,
                 backbone: dict,
                 projector: dict,
                 language_model: dict,
                 prompt_encoder: dict,
                 mask_generator: dict,
                 criterion: dict = dict(type='PSALMCriterion'),
                 freeze_backbone: bool = True,
                 llm_feature_index: int = 3,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.language_model = MODELS.build(language_model)
        llm_dims = self.language_model.hidden_size
        self.projector = MODELS.build(dict(projector, out_channels=llm_dims))
        self.prompt_encoder = MODELS.build(dict(prompt_encoder, llm_dims=llm_dims))
        self.mask_generator = MODELS.build(mask_generator)
        self.criterion = MODELS.build(criterion)
        self.freeze_backbone = freeze_backbone
        self.llm_feature_index = llm_feature_index
        self.train_cfg = train_cfg or {}
        test_cfg = dict(test_cfg or {})
        postprocess = copy.deepcopy(DEFAULT_POSTPROCESS)
        postprocess.update(test_cfg.pop('postprocess', {}))
        self.postprocessors = {task: [TASK_UTILS.build(c) for c in cfgs]
                               for task, cfgs in postprocess.items()}
        self.rescale = test_cfg.pop('rescale', True)
        self.generation_cfg = test_cfg.pop('generation', dict(max_new_tokens=64))
        self.test_cfg = test_cfg
        if freeze_backbone:
            self.backbone.requires_grad_(False)

    def train(self, mode: bool = True) -> 'PSALM':
        super().train(mode)
        if self.freeze_backbone:
            # Frozen also means no DropPath and no BatchNorm statistics updates.
            self.backbone.eval()
        return self

    # ------------------------------------------------------------ the chain
    def extract_feat(self, batch_inputs: Tensor) -> Tuple[Tensor, ...]:
        """(B, 3, H, W) -> backbone levels (strides 4, 8, 16, 32)."""
        if self.freeze_backbone:
            with torch.no_grad():  # keeps no activations for a backward pass
                return tuple(self.backbone(batch_inputs))
        return tuple(self.backbone(batch_inputs))

    def _prompt(self, batch_inputs: Tensor, data_samples: SampleList,
                for_generation: bool = False) -> Tuple[Tuple[Tensor, ...], PromptBatch]:
        feats = self.extract_feat(batch_inputs)
        llm_feat = feats[self.llm_feature_index]
        image_tokens = self.projector(llm_feat)
        grid_hw = ((llm_feat.shape[-2] + 1) // 2, (llm_feat.shape[-1] + 1) // 2)
        prompts = self.prompt_encoder.assemble(self.language_model, data_samples, image_tokens,
                                               grid_hw, tuple(batch_inputs.shape[-2:]),
                                               for_generation=for_generation)
        return feats, prompts

    def _segment(self, batch_inputs: Tensor, data_samples: SampleList):
        feats, prompts = self._prompt(batch_inputs, data_samples)
        llm_out = self.language_model(prompts.inputs_embeds, prompts.attention_mask, prompts.labels)
        queries, conditions = self.prompt_encoder.extract(llm_out['hidden_states'], prompts)
        outputs = None
        if any(kind != 'none' for kind in prompts.kinds):
            outputs = self.mask_generator(feats, queries, conditions)
        return outputs, conditions, llm_out

    # ----------------------------------------------------------------- modes
    def loss(self, batch_inputs: Tensor, batch_data_samples: SampleList) -> Dict[str, Tensor]:
        outputs, conditions, llm_out = self._segment(batch_inputs, batch_data_samples)
        gts = [s.gt_instances if 'gt_instances' in s else InstanceData()
               for s in batch_data_samples]
        # Loss normalisers are means over ranks, gathered by one all-reduce that every rank joins
        # whatever task its batch holds (joint training gives ranks different tasks; a rank that
        # skipped it would break the collective), so DDP's gradient is the global batch's.
        counts = self.criterion.local_counts(outputs, conditions, gts)
        counts['llm_tokens'] = float(llm_out.get('num_tokens', 0))
        counts = reduce_mean_counts(counts, batch_inputs.device)
        losses: Dict[str, Tensor] = {}
        if outputs is not None:
            metas = [s.metainfo for s in batch_data_samples]
            losses.update(self.criterion(outputs, conditions, gts, metas, counts))
        if 'loss' in llm_out:
            # Next-token loss only for instruction-following (conversation) samples: this rank's
            # token mean, re-normalised by the mean token count over ranks.
            scale = llm_out['num_tokens'] / counts['llm_tokens'] if counts['llm_tokens'] else 0.0
            losses['loss_llm'] = torch.nan_to_num(llm_out['loss']) * scale
        return losses

    def predict(self, batch_inputs: Tensor, batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """Segmentation results in standard ``DetDataSample`` fields (see the post-processors);
        conversation samples get ``pred_text``."""
        seg_idx = [i for i, s in enumerate(batch_data_samples)
                   if self.prompt_encoder.condition_type(s) != 'none']
        text_idx = [i for i in range(len(batch_data_samples)) if i not in seg_idx]
        if seg_idx:
            samples = [batch_data_samples[i] for i in seg_idx]
            outputs, conditions, _ = self._segment(batch_inputs[seg_idx], samples)
            final = outputs[-1]
            for b, sample in enumerate(samples):
                self._postprocess(final['mask_logits'][b], final['scores'][b], sample,
                                  rescale and self.rescale)
        if text_idx:
            samples = [batch_data_samples[i] for i in text_idx]
            for sample, text in zip(samples, self.generate(batch_inputs[text_idx], samples)):
                sample.pred_text = text
        return batch_data_samples

    def _postprocess(self, mask_logits: Tensor, scores: Tensor, sample: DetDataSample,
                     rescale: bool) -> None:
        task = sample.metainfo['task']
        if task not in self.postprocessors:
            raise KeyError(f'no post-processor for task {task!r}; configure test_cfg.postprocess')
        meta = sample.metainfo
        logits = mask_logits_to_image(mask_logits, meta['batch_input_shape'], meta['img_shape'],
                                      meta.get('ori_shape', meta['img_shape']), rescale)
        for postprocessor in self.postprocessors[task]:
            postprocessor(logits, scores, sample)

    @torch.no_grad()
    def generate(self, batch_inputs: Tensor, data_samples: SampleList, **kwargs) -> List[str]:
        """Text answers for conversation samples (greedy by default)."""
        _, prompts = self._prompt(batch_inputs, data_samples, for_generation=True)
        cfg = dict(self.generation_cfg, **kwargs)
        return self.language_model.generate(prompts.inputs_embeds, prompts.attention_mask, **cfg)

    def _forward(self, batch_inputs: Tensor, batch_data_samples: OptSampleList = None):
        """Raw outputs: the prediction sets of the mask generator (or None)."""
        outputs, _, _ = self._segment(batch_inputs, batch_data_samples)
        return outputs
