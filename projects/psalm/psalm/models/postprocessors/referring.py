"""Referring and generalized-referring post-processing."""
from typing import Optional

import torch
from torch import Tensor

from mmdet.registry import TASK_UTILS
from mmdet.structures import DetDataSample
from .utils import instances_from_masks, mask_quality


def _sentence_scores(mask_logits: Tensor, scores: Tensor) -> Tensor:
    """(Q,) sigmoid(sentence logit) x mask quality."""
    return scores[:, 0].sigmoid() * mask_quality(mask_logits)


@TASK_UTILS.register_module()
class ReferringPostProcessor:
    """Writes the top-1 mask as ``pred_instances`` (one instance, label 0)."""

    def __call__(self, mask_logits: Tensor, scores: Tensor, data_sample: DetDataSample) -> None:
        score = _sentence_scores(mask_logits, scores)
        best = int(score.argmax())
        data_sample.pred_instances = instances_from_masks(
            mask_logits[best:best + 1] > 0, score[best:best + 1],
            torch.zeros(1, dtype=torch.long, device=score.device))


@TASK_UTILS.register_module()
class GRESPostProcessor:
    """Generalized referring: the union of the masks whose score exceeds ``score_thr``.

    ``pred_instances`` holds one instance (the fused mask, its score = the best fused score),
    ``target_score`` (the best fused score of all queries: the evidence that the expression has
    a target) and ``no_target`` (the explicit decision: ``target_score <= no_target_thr``). With
    ``fallback_top1`` (reference protocol) a sample where nothing passes gets the top-1 mask;
    without it (the paper's wording) its mask is empty.

    Args:
        score_thr: fusion threshold (0.6).
        fallback_top1: use the top-1 mask when nothing passes (reference behaviour).
        no_target_thr: threshold of the no-target decision (defaults to ``score_thr``). The
            reference has no such decision; ``GRESMetric(no_target_thrs=...)`` scores other
            thresholds from the same predictions, to calibrate it on a training split.
    """

    def __init__(self, score_thr: float = 0.6, fallback_top1: bool = True,
                 no_target_thr: Optional[float] = None) -> None:
        self.score_thr = score_thr
        self.fallback_top1 = fallback_top1
        self.no_target_thr = score_thr if no_target_thr is None else no_target_thr

    def __call__(self, mask_logits: Tensor, scores: Tensor, data_sample: DetDataSample) -> None:
        score = _sentence_scores(mask_logits, scores)
        selected = score > self.score_thr
        if not selected.any() and self.fallback_top1:
            selected = score == score.max()
        fused = (mask_logits[selected] > 0).any(0, keepdim=True) if selected.any() else \
            torch.zeros_like(mask_logits[:1], dtype=torch.bool)
        best = score[selected].max() if selected.any() else score.new_zeros(())
        instances = instances_from_masks(fused, best.view(1),
                                         torch.zeros(1, dtype=torch.long, device=score.device))
        instances.target_score = score.max().view(1)
        instances.no_target = (instances.target_score <= self.no_target_thr).view(1)
        data_sample.pred_instances = instances
