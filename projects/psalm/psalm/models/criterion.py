"""PSALM's matching and losses (reference ``PSALM_criterion`` / ``hungarian_matcher_PSALM``).

Per prediction set (the final one and every auxiliary one), each sample's queries are matched to
its ground-truth masks by mmdet's ``HungarianAssigner`` on points sampled from the masks; the
class cost enters only for category conditions. Then:

- category conditions: cross-entropy over the categories (``background`` last, weight 0.1 for it);
- sentence and visual-prior conditions: binary cross-entropy on the query scores, target 1 at the
  matched queries, positives up-weighted by #negatives / #positives;
- masks of matched pairs: point-sampled BCE and dice with importance sampling.

Distributed training: every normaliser (number of masks, category weights, score-target sizes and
positives) is the mean over ranks of the per-rank count, so the gradient that DDP averages equals
the gradient of the global batch. :func:`reduce_mean_counts` gathers them in one all-reduce, which
every rank must join in every step, whatever task its batch holds (see ``PSALM.loss``).
"""
import math
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.distributed as dist
from mmcv.ops import point_sample
from mmengine.model import BaseModule
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.utils import get_uncertain_point_coords_with_randomness
from mmdet.registry import MODELS, TASK_UTILS
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


def reduce_mean_counts(counts: Dict[str, float], device: torch.device) -> Dict[str, float]:
    """Mean over ranks of every count, in one all-reduce; the counts as they are without a
    process group. All ranks must call it with the same keys, the same number of times."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return {k: float(v) for k, v in counts.items()}
    keys = sorted(counts)
    values = torch.tensor([float(counts[k]) for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(values)
    return dict(zip(keys, (values / dist.get_world_size()).tolist()))


def _num_gt_masks(gt: InstanceData) -> int:
    masks = gt.masks
    if isinstance(masks, (Tensor, np.ndarray)) and masks.ndim == 2:
        return 1
    return len(masks)


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
        point_sampling: ``'random'`` (reference: uniform random points for matching, importance
            sampling for the mask losses) or ``'grid'``: a fixed sqrt(num_points)^2 grid of
            points for both, so the losses do not depend on the random stream (deterministic
            tests, e.g. that DDP equals one process with the global batch).
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
                 point_sampling: str = 'random',
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
        if point_sampling not in ('random', 'grid'):
            raise ValueError(f"point_sampling must be 'random' or 'grid', got {point_sampling!r}")
        side = math.isqrt(num_points)
        if point_sampling == 'grid' and side * side != num_points:
            raise ValueError(f"point_sampling='grid' needs a square num_points, got {num_points}")
        self.point_sampling = point_sampling

    def _grid_points(self, device: torch.device) -> Tensor:
        """(num_points, 2) cell centres of a regular grid, normalised (x, y) in (0, 1)."""
        side = math.isqrt(self.num_points)
        c = (torch.arange(side, dtype=torch.float32, device=device) + 0.5) / side
        return torch.stack(torch.meshgrid(c, c, indexing='xy'), dim=-1).reshape(-1, 2)

    @property
    def count_keys(self) -> List[str]:
        return ['masks', 'category_weight', 'sentence_numel', 'sentence_pos',
                'visual_prior_numel', 'visual_prior_pos']

    def local_counts(self, outputs: Optional[List[dict]], conditions: List[Condition],
                     batch_gt_instances: List[InstanceData]) -> Dict[str, float]:
        """This rank's loss normalisers (all zero when ``outputs`` is None: a text-only batch).

        The Hungarian matching pairs min(Q, n) queries with the n targets of a sample in every
        prediction set, so the counts follow from the shapes, before matching:

        - ``masks``: target masks of segmentation samples;
        - ``category_weight``: sum of the class weights of all queries (1 matched, background
          weight otherwise);
        - ``{sentence,visual_prior}_numel`` / ``_pos``: elements / positives of the score targets.
        """
        counts = dict.fromkeys(self.count_keys, 0.0)
        if outputs is None:
            return counts
        scores = outputs[-1]['scores']
        for b, (cond, gt) in enumerate(zip(conditions, batch_gt_instances)):
            if cond.kind == 'none':
                continue
            n = _num_gt_masks(gt)
            q, cols = scores[b].shape
            matched = min(q, n)
            counts['masks'] += n
            if cond.kind == 'category':
                counts['category_weight'] += matched + self.background_weight * (q - matched)
            else:
                counts[f'{cond.kind}_numel'] += q * cols
                counts[f'{cond.kind}_pos'] += matched
        return counts

    # ------------------------------------------------------------- matching
    @torch.no_grad()
    def _match(self, mask_logits: Tensor, scores: Tensor, gt_masks: Tensor, gt_labels: Tensor,
               kind: str, img_meta: dict) -> Tensor:
        """(Q,) assigned gt index per query, -1 for unmatched."""
        if gt_masks.shape[0] == 0:
            return gt_labels.new_full((mask_logits.shape[0], ), -1)
        if torch.is_autocast_enabled(mask_logits.device.type):
            # Costs in fp32: scipy's assignment cannot take a bf16 matrix (mixed precision).
            with torch.autocast(mask_logits.device.type, enabled=False):
                return self._match(mask_logits.float(), scores.float(), gt_masks.float(),
                                   gt_labels, kind, img_meta)
        if self.point_sampling == 'grid':
            coords = self._grid_points(mask_logits.device)[None]
        else:
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
            if self.point_sampling == 'grid':
                coords = self._grid_points(pred.device).expand(pred.shape[0], -1, -1)
            else:
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
                    norms: Dict[str, float]) -> Dict[str, Tensor]:
        mask_logits = output['mask_logits']
        losses: Dict[str, Tensor] = {}
        cat_terms = []
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
            else:
                target = torch.zeros_like(scores)
                # Sentence: every target maps to the one sentence; region k to its own column.
                cols = assigned[pos] if cond.kind == 'visual_prior' else torch.zeros_like(pos)
                target[pos, cols] = 1.0
                score_logits[cond.kind].append(scores.reshape(-1))
                score_targets[cond.kind].append(target.reshape(-1))
        # Normalisers: means over ranks (see local_counts); the class-weighted CE mean and the
        # BCE positive weight (#neg / #pos) are those of the global batch.
        if cat_terms:
            cat_weight = norms['category_weight']
            losses['loss_category'] = sum(
                self.loss_category(s, l, weight=w, avg_factor=cat_weight) for s, l, w in cat_terms)
        for kind, name in (('sentence', 'loss_sentence'), ('visual_prior', 'loss_region')):
            if score_logits[kind]:
                logits = torch.cat(score_logits[kind])
                target = torch.cat(score_targets[kind])
                numel, n_pos = norms[f'{kind}_numel'], norms[f'{kind}_pos']
                pos_weight = (numel - n_pos) / n_pos if n_pos > 0 else 1.0
                weight = torch.where(target > 0, pos_weight, 1.0)
                losses[name] = self.loss_score(logits, target, weight=weight, avg_factor=numel)
        pred = torch.cat(matched_pred) if matched_pred else mask_logits[:0, 0]
        target = torch.cat(matched_gt) if matched_gt else mask_logits.new_zeros((0, 1, 1))
        losses.update(self._mask_losses(pred, target, norms['num_masks']))
        return losses

    def forward(self, outputs: List[dict], conditions: List[Condition],
                batch_gt_instances: List[InstanceData], batch_img_metas: List[dict],
                counts: Optional[Dict[str, float]] = None) -> Dict[str, Tensor]:
        """Losses of all prediction sets.

        Args:
            outputs: prediction sets of :class:`PSALMMaskGenerator` (the last is final).
            conditions: per-sample conditions.
            batch_gt_instances: per sample ``masks`` (n, H, W) and, for category conditions,
                ``labels`` (n,) indexing the sample's category list. For visual-prior
                conditions mask k belongs to region k; sentence conditions may have 0..n masks.
            batch_img_metas: per-sample metainfo (``batch_input_shape`` gives the canvas).
            counts: the normalisers of :meth:`local_counts`, already averaged over ranks with
                :func:`reduce_mean_counts`; None = gather them here (every rank must then call
                this method in every step).

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
        if counts is None:
            counts = reduce_mean_counts(
                self.local_counts(outputs, conditions, batch_gt_instances), device)
        # At least one mask, as Mask2Former (clamped after the mean over ranks).
        norms = dict(counts, num_masks=max(counts['masks'], 1.0))

        losses = {}
        for i, output in enumerate(outputs):
            prefix = '' if i == len(outputs) - 1 else f'd{i}.'
            for k, v in self._single_set(output, conditions, gt_masks, gt_labels,
                                         batch_img_metas, norms).items():
                losses[prefix + k] = v
        return losses
