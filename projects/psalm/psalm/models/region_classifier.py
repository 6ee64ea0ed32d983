"""Backbone pretraining by region classification, for models trained from zero.

The released PSALM starts from a Swin-B that was pretrained for classification (ImageNet) and then
for COCO panoptic segmentation (Mask2Former). A tiny model trained from random weights has no such
start, and the mask generator's classification loss alone teaches its backbone the classes very
slowly: on the synthetic shapes set, where only an object's outline tells its class, a linear
probe of the backbone features (mask-pooled per object) stays at chance after 2,000 PSALM
iterations. This model is the missing pretraining step: each ground-truth segment's features are
averaged over its mask, per backbone level, and a linear head per level classifies them.
Training it with ``tools/train.py`` gives a checkpoint whose ``backbone.*`` weights PSALM loads
with ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``.
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import Tensor

from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from .criterion import gt_masks_as_tensor


def mask_pooled_features(feat: Tensor, masks: Tensor) -> Tensor:
    """Average of a feature map over each mask.

    Args:
        feat: (C, h, w) features of one image at some stride.
        masks: (n, H, W) float masks on the input canvas (H, W multiples of h, w).

    Returns:
        (n, C): each mask's features, weighted by the fraction of each feature cell it covers.
    """
    cover = F.adaptive_avg_pool2d(masks.unsqueeze(0), feat.shape[-2:])[0]  # (n, h, w)
    cover = cover / cover.sum((1, 2), keepdim=True).clamp(min=1e-6)
    return torch.einsum('nhw,chw->nc', cover, feat)


@MODELS.register_module()
class RegionClassifier(BaseModel):
    """A backbone with one linear classifier per level on mask-pooled features.

    Args:
        backbone: the backbone config (the same dict as the PSALM config's ``model.backbone``).
        in_channels: channels of every backbone output level.
        num_classes: number of segment classes (``gt_instances.labels`` lie in [0, num_classes)).
        levels: indices of the backbone outputs that get a classifier; the loss is the mean of
            their cross-entropies, so each of them learns the classes.
        data_preprocessor: as in the PSALM config, so that inputs are normalised the same way.
    """

    def __init__(self,
                 backbone: dict,
                 in_channels: Sequence[int],
                 num_classes: int,
                 levels: Sequence[int] = (1, 2),
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        bad = [lv for lv in levels if not 0 <= lv < len(in_channels)]
        if bad or not levels:
            raise ValueError(f'levels {list(levels)} must be a non-empty subset of the '
                             f'{len(in_channels)} backbone levels')
        self.backbone = MODELS.build(backbone)
        self.levels = tuple(levels)
        self.num_classes = num_classes
        self.heads = nn.ModuleList([nn.Linear(in_channels[lv], num_classes) for lv in levels])

    def _logits(self, inputs: Tensor, masks: List[Tensor]) -> List[Tensor]:
        """Per classified level, (N, num_classes) logits of the N segments of the batch."""
        feats = self.backbone(inputs)
        logits = []
        for head, lv in zip(self.heads, self.levels):
            pooled = [mask_pooled_features(feats[lv][b], m) for b, m in enumerate(masks)]
            logits.append(head(torch.cat(pooled)))
        return logits

    def _targets(self, inputs: Tensor, data_samples: Sequence[DetDataSample]):
        canvas = tuple(inputs.shape[-2:])
        masks = [gt_masks_as_tensor(s.gt_instances, canvas, inputs.device) for s in data_samples]
        labels = torch.cat([s.gt_instances.labels.to(inputs.device) for s in data_samples])
        if labels.numel() and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(f'gt_instances.labels must lie in [0, {self.num_classes}); got '
                             f'{labels.min().item()}..{labels.max().item()}')
        return masks, labels.long()

    def forward(self, inputs: Tensor, data_samples: Optional[Sequence[DetDataSample]] = None,
                mode: str = 'tensor') -> Union[Dict[str, Tensor], List[DetDataSample], List[Tensor]]:
        """``loss``: cross-entropy and accuracy per level; ``predict``: the samples with
        ``pred_instances.labels`` / ``scores`` for their ground-truth segments (the mean of the
        levels' probabilities); ``tensor``: the backbone outputs."""
        if mode == 'tensor':
            return list(self.backbone(inputs))
        if data_samples is None:
            raise ValueError(f'mode={mode!r} needs data_samples with gt_instances')
        masks, labels = self._targets(inputs, data_samples)
        logits = self._logits(inputs, masks)
        if mode == 'loss':
            losses = {}
            for lv, lg in zip(self.levels, logits):
                # Zero (with a graph) for a batch without segments.
                ce = F.cross_entropy(lg, labels) if labels.numel() else lg.sum() * 0
                losses[f'loss_cls_level{lv}'] = ce / len(self.levels)
                if labels.numel():
                    losses[f'acc_level{lv}'] = (lg.argmax(-1) == labels).float().mean().detach()
            return losses
        if mode == 'predict':
            probs = torch.stack([lg.softmax(-1) for lg in logits]).mean(0)
            scores, pred = probs.max(-1)
            start = 0
            for s, m in zip(data_samples, masks):
                n = m.shape[0]
                s.pred_instances = s.gt_instances.clone()
                s.pred_instances.labels = pred[start:start + n]
                s.pred_instances.scores = scores[start:start + n]
                start += n
            return list(data_samples)
        raise ValueError(f'mode must be loss, predict or tensor, got {mode!r}')
