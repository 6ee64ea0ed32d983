"""PSALM's matching and losses (reference ``PSALM_criterion`` / ``hungarian_matcher_PSALM``).

Per prediction set (the final one and every auxiliary one), each sample's queries are matched to
its ground-truth masks by mmdet's ``HungarianAssigner`` on points sampled from the masks; the
class cost enters only for category conditions. Then:

- category conditions: cross-entropy over the categories (``background`` last, weight 0.1 for it);
- sentence and visual-prior conditions: binary cross-entropy on the query scores, target 1 at the
  matched queries, positives up-weighted by #negatives / #positives;
- masks of matched pairs: point-sampled BCE and dice with importance sampling.
"""
from typing import Dict, List, Optional, Sequence

import torch
from mmcv.ops import point_sample
from mmengine.model import BaseModule
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.utils import get_uncertain_point_coords_with_randomness
from mmdet.registry import MODELS, TASK_UTILS
from mmdet.utils import reduce_mean
from .condition_prompt import Condition

_MASK_COSTS = [
    dict(type='CrossEntropyLossCost', weight=5.0, use_sigmoid=True),
    dict(type='DiceCost', weight=5.0, pred_act=True, eps=1.0)
]


def gt_masks_as_tensor(gt_instances: InstanceData, canvas_hw: Sequence[int],
                       device: torch.device) -> Tensor:
    """(n, H, W) float masks padded (bottom/right) to the input canvas."""
    masks = gt_instances.masks
    if hasattr(masks, 'to_tensor'):
        masks = masks.to_tensor(dtype=torch.float32, device=device)
    masks = torch.as_tensor(masks, device=device).float()
    if masks.dim() == 2:
        masks = masks.unsqueeze(0)
    h, w = masks.shape[-2:]
    if (h, w) != tuple(canvas_hw):
        canvas = masks.new_zeros((masks.shape[0], *canvas_hw))
        canvas[:, :min(h, canvas_hw[0]), :min(w, canvas_hw[1])] = \
            masks[:, :canvas_hw[0], :canvas_hw[1]]
        masks = canvas
    return masks


@MODELS.register_module()
class PSALMCriterion(BaseModule):
    """Matching and losses for all condition types.

    Args:
        category_assigner: assigner for category conditions (class + mask + dice costs).
        mask_assigner: assigner for sentence and visual-prior conditions (mask + dice costs).
        loss_category: mmdet ``CrossEntropyLoss`` (softmax) on category logits.
        loss_score: mmdet ``CrossEntropyLoss`` (sigmoid) on sentence / region scores.
        loss_mask: mmdet ``CrossEntropyLoss`` (sigmoid) on sampled mask points.
        loss_dice: mmdet ``DiceLoss`` on sampled mask points.
        background_weight: class weight of the ``background`` category.
        num_points: points sampled per mask (12544).
        oversample_ratio, importance_sample_ratio: importance sampling of the mask losses.
    """

    def __init__(self,
                 category_assigner: dict = dict(
                     type='HungarianAssigner',
                     match_costs=[dict(type='ClassificationCost', weight=2.0)] + _MASK_COSTS),
                 mask_assigner: dict = dict(type='HungarianAssigner', match_costs=_MASK_COSTS),
                 loss_category: dict = dict(type='CrossEntropyLoss', use_sigmoid=False,
                                            loss_weight=2.0, reduction='mean'),
                 loss_score: dict = dict(type='CrossEntropyLoss', use_sigmoid=True,
                                         loss_weight=2.0, reduction='mean'),
                 loss_mask: dict = dict(type='CrossEntropyLoss', use_sigmoid=True,
                                        loss_weight=5.0, reduction='mean'),
                 loss_dice: dict = dict(type='DiceLoss', use_sigmoid=True, activate=True,
                                        reduction='mean', naive_dice=True, eps=1.0,
                                        loss_weight=5.0),
                 background_weight: float = 0.1,
                 num_points: int = 12544,
                 oversample_ratio: float = 3.0,
                 importance_sample_ratio: float = 0.75,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.assigners = dict(category=TASK_UTILS.build(category_assigner),
                              mask=TASK_UTILS.build(mask_assigner))
        self.loss_category = MODELS.build(loss_category)
        self.loss_score = MODELS.build(loss_score)
        self.loss_mask = MODELS.build(loss_mask)
        self.loss_dice = MODELS.build(loss_dice)
        self.background_weight = background_weight
        self.num_points = num_points
        self.oversample_ratio = oversample_ratio
        self.importance_sample_ratio = importance_sample_ratio

    # ------------------------------------------------------------- matching
    @torch.no_grad()
    def _match(self, mask_logits: Tensor, scores: Tensor, gt_masks: Tensor, gt_labels: Tensor,
               kind: str, img_meta: dict) -> Tensor:
        """(Q,) assigned gt index per query, -1 for unmatched."""
        if gt_masks.shape[0] == 0:
            return gt_labels.new_full((mask_logits.shape[0], ), -1)
        coords = torch.rand((1, self.num_points, 2), device=mask_logits.device)
        pred_pts = point_sample(mask_logits.unsqueeze(1),
                                coords.expand(mask_logits.shape[0], -1, -1)).squeeze(1)
        gt_pts = point_sample(gt_masks.unsqueeze(1),
                              coords.expand(gt_masks.shape[0], -1, -1)).squeeze(1)
        assigner = self.assigners['category' if kind == 'category' else 'mask']
        result = assigner.assign(InstanceData(scores=scores, masks=pred_pts),
                                 InstanceData(labels=gt_labels, masks=gt_pts), img_meta=img_meta)
        return result.gt_inds - 1

    # ----------------------------------------------------------------- losses
    def _mask_losses(self, pred: Tensor, target: Tensor, num_masks: float) -> Dict[str, Tensor]:
        if pred.shape[0] == 0:
            zero = pred.sum() * 0
            return dict(loss_mask=zero, loss_dice=zero)
        with torch.no_grad():
            coords = get_uncertain_point_coords_with_randomness(
                pred.unsqueeze(1), None, self.num_points, self.oversample_ratio,
                self.importance_sample_ratio)
            target_pts = point_sample(target.unsqueeze(1), coords).squeeze(1)
        pred_pts = point_sample(pred.unsqueeze(1), coords).squeeze(1)
        loss_dice = self.loss_dice(pred_pts, target_pts, avg_factor=num_masks)
        loss_mask = self.loss_mask(pred_pts.reshape(-1), target_pts.reshape(-1),
                                   avg_factor=num_masks * self.num_points)
        return dict(loss_mask=loss_mask, loss_dice=loss_dice)

    def _single_set(self, output: dict, conditions: List[Condition], gt_masks: List[Tensor],
                    gt_labels: List[Tensor], img_metas: List[dict],
                    num_masks: float) -> Dict[str, Tensor]:
        mask_logits = output['mask_logits']
        losses: Dict[str, Tensor] = {}
        cat_terms, cat_weight = [], 0.0
        score_logits, score_targets = {'sentence': [], 'visual_prior': []}, \
            {'sentence': [], 'visual_prior': []}
        matched_pred, matched_gt = [], []
        for b, cond in enumerate(conditions):
            if cond.kind == 'none':
                continue
            scores = output['scores'][b]  # (Q, N)
            assigned = self._match(mask_logits[b], scores, gt_masks[b], gt_labels[b], cond.kind,
                                   img_metas[b])
            pos = (assigned >= 0).nonzero(as_tuple=True)[0]
            matched_pred.append(mask_logits[b, pos])
            matched_gt.append(gt_masks[b][assigned[pos]])
            if cond.kind == 'category':
                num_cat = scores.shape[1]
                labels = assigned.new_full((scores.shape[0], ), num_cat - 1)  # background
                labels[pos] = gt_labels[b][assigned[pos]]
                class_weight = scores.new_ones(num_cat)
                class_weight[-1] = self.background_weight
                weight = class_weight[labels]
                cat_terms.append((scores, labels, weight))
                cat_weight += float(weight.sum())
            else:
                target = torch.zeros_like(scores)
                # Sentence: every target maps to the one sentence; region k to its own column.
                cols = assigned[pos] if cond.kind == 'visual_prior' else torch.zeros_like(pos)
                target[pos, cols] = 1.0
                score_logits[cond.kind].append(scores.reshape(-1))
                score_targets[cond.kind].append(target.reshape(-1))
        if cat_terms:
            losses['loss_category'] = sum(
                self.loss_category(s, l, weight=w, avg_factor=cat_weight) for s, l, w in cat_terms)
        for kind, name in (('sentence', 'loss_sentence'), ('visual_prior', 'loss_region')):
            if score_logits[kind]:
                logits = torch.cat(score_logits[kind])
                target = torch.cat(score_targets[kind])
                n_pos = float(target.sum())
                pos_weight = (target.numel() - n_pos) / max(n_pos, 1.0)
                weight = torch.where(target > 0, pos_weight, 1.0)
                losses[name] = self.loss_score(logits, target, weight=weight,
                                               avg_factor=float(target.numel()))
        pred = torch.cat(matched_pred) if matched_pred else mask_logits[:0, 0]
        target = torch.cat(matched_gt) if matched_gt else mask_logits.new_zeros((0, 1, 1))
        losses.update(self._mask_losses(pred, target, num_masks))
        return losses

    def forward(self, outputs: List[dict], conditions: List[Condition],
                batch_gt_instances: List[InstanceData],
                batch_img_metas: List[dict]) -> Dict[str, Tensor]:
        """Losses of all prediction sets.

        Args:
            outputs: prediction sets of :class:`PSALMMaskGenerator` (the last is final).
            conditions: per-sample conditions.
            batch_gt_instances: per sample ``masks`` (n, H, W) and, for category conditions,
                ``labels`` (n,) indexing the sample's category list. For visual-prior
                conditions mask k belongs to region k; sentence conditions may have 0..n masks.
            batch_img_metas: per-sample metainfo (``batch_input_shape`` gives the canvas).

        Returns:
            ``loss_*`` of the final set and ``d{i}.loss_*`` of auxiliary set i.
        """
        device = outputs[-1]['mask_logits'].device
        gt_masks, gt_labels = [], []
        for gt, meta in zip(batch_gt_instances, batch_img_metas):
            masks = gt_masks_as_tensor(gt, meta['batch_input_shape'], device)
            labels = gt.labels.to(device) if 'labels' in gt else \
                torch.zeros(masks.shape[0], dtype=torch.long, device=device)
            gt_masks.append(masks)
            gt_labels.append(labels.long())
        num_masks = sum(m.shape[0] for m, c in zip(gt_masks, conditions) if c.kind != 'none')
        num_masks = max(float(reduce_mean(torch.tensor(float(num_masks), device=device))), 1.0)

        losses = {}
        for i, output in enumerate(outputs):
            prefix = '' if i == len(outputs) - 1 else f'd{i}.'
            for k, v in self._single_set(output, conditions, gt_masks, gt_labels,
                                         batch_img_metas, num_masks).items():
                losses[prefix + k] = v
        return losses
