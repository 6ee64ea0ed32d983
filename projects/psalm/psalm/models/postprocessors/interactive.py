"""Interactive (visual-prior) post-processing, also used for video object segmentation."""
import torch
from torch import Tensor

from mmdet.registry import TASK_UTILS
from mmdet.structures import DetDataSample
from .utils import instances_from_masks, mask_quality


@TASK_UTILS.register_module()
class InteractivePostProcessor:
    """Writes one mask per region, in region order: for region k the query maximising
    sigmoid(region logit) x mask quality. ``labels`` are region indices."""

    def __call__(self, mask_logits: Tensor, scores: Tensor, data_sample: DetDataSample) -> None:
        score = scores.sigmoid() * mask_quality(mask_logits)[:, None]  # (Q, K)
        best_score, best_query = score.max(0)
        data_sample.pred_instances = instances_from_masks(
            mask_logits[best_query] > 0, best_score,
            torch.arange(scores.shape[1], device=scores.device))
