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

Class labels alone teach a backbone to drop what does not tell the class: on the shapes set, the
colour of a segment fades from the stride-32 features as stage 0 goes on, and referring expressions
name colours and sizes. With ``appearance_weight > 0`` a second linear head per level also
regresses each segment's mean input colour and log area, targets read off the input and the mask
(no extra annotation), so the features keep them.
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
        appearance_weight: weight of the appearance regression (each segment's mean input colour
            and log area fraction, smooth L1, mean over the levels); 0 disables it and its heads.
        data_preprocessor: as in the PSALM config, so that inputs are normalised the same way.
    """

    def __init__(self,
                 backbone: dict,
                 in_channels: Sequence[int],
                 num_classes: int,
                 levels: Sequence[int] = (1, 2),
                 appearance_weight: float = 0.0,
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
        if appearance_weight < 0:
            raise ValueError(f'appearance_weight must be >= 0, got {appearance_weight}')
        self.appearance_weight = appearance_weight
        # (mean R, G, B of the normalised input, log area fraction) per segment
        self.appearance_heads = nn.ModuleList(
            [nn.Linear(in_channels[lv], 4) for lv in levels]) if appearance_weight > 0 else None

    def _pooled(self, inputs: Tensor, masks: List[Tensor]) -> List[Tensor]:
        """Per classified level, (N, C) mask-pooled features of the N segments of the batch."""
        feats = self.backbone(inputs)
        return [
            torch.cat([mask_pooled_features(feats[lv][b], m) for b, m in enumerate(masks)])
            for lv in self.levels
        ]

    @staticmethod
    def appearance_targets(inputs: Tensor, masks: List[Tensor]) -> Tensor:
        """(N, 4): each segment's mean colour in the (normalised) input and log area fraction.

        Args:
            inputs: (B, 3, H, W) the batch as the backbone sees it.
            masks: per image, (n_b, H, W) float masks on the same canvas.
        """
        out = []
        for b, m in enumerate(masks):
            colour = mask_pooled_features(inputs[b], m)
            area = m.flatten(1).mean(1).clamp(min=1.0 / (m.shape[-2] * m.shape[-1])).log()
            out.append(torch.cat([colour, area[:, None]], 1))
        return torch.cat(out) if out else inputs.new_zeros(0, 4)

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
        """``loss``: cross-entropy and accuracy per level (and the appearance regression);
        ``predict``: the samples with ``pred_instances.labels`` / ``scores`` for their
        ground-truth segments (the mean of the levels' probabilities); ``tensor``: the backbone
        outputs."""
        if mode == 'tensor':
            return list(self.backbone(inputs))
        if data_samples is None:
            raise ValueError(f'mode={mode!r} needs data_samples with gt_instances')
        masks, labels = self._targets(inputs, data_samples)
        pooled = self._pooled(inputs, masks)
        logits = [head(p) for head, p in zip(self.heads, pooled)]
        if mode == 'loss':
            losses = {}
            for lv, lg in zip(self.levels, logits):
                # Zero (with a graph) for a batch without segments.
                ce = F.cross_entropy(lg, labels) if labels.numel() else lg.sum() * 0
                losses[f'loss_cls_level{lv}'] = ce / len(self.levels)
                if labels.numel():
                    losses[f'acc_level{lv}'] = (lg.argmax(-1) == labels).float().mean().detach()
            if self.appearance_heads is not None:
                target = self.appearance_targets(inputs, masks) if labels.numel() else None
                for lv, head, p in zip(self.levels, self.appearance_heads, pooled):
                    pred = head(p)
                    reg = F.smooth_l1_loss(pred, target) if labels.numel() else pred.sum() * 0
                    losses[f'loss_appearance_level{lv}'] = (
                        self.appearance_weight * reg / len(self.levels))
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
