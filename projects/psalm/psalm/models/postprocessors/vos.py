"""Video object segmentation post-processing (the reference's ``eval_davis.py``)."""
import torch
from torch import Tensor

from mmdet.registry import TASK_UTILS
from mmdet.structures import DetDataSample
from .utils import instances_from_masks, mask_quality


@TASK_UTILS.register_module()
class VOSPostProcessor:
    """Writes one mask per region (tracked object), in region order, no query shared by two
    objects: object k takes, among its ``top_k`` queries by sigmoid(region logit) x mask quality,
    the best one that no earlier object took (its best query if all are taken). ``labels`` are
    region indices, as :class:`InteractivePostProcessor` writes them.

    Args:
        top_k: queries searched per object (10 in the reference).
    """

    def __init__(self, top_k: int = 10) -> None:
        if top_k < 1:
            raise ValueError(f'top_k must be >= 1, got {top_k}')
        self.top_k = top_k

    def __call__(self, mask_logits: Tensor, scores: Tensor, data_sample: DetDataSample) -> None:
        """
        Args:
            mask_logits: (Q, H, W) on the output image.
            scores: (Q, K) region logits.
            data_sample: gets ``pred_instances`` (K masks).
        """
        score = scores.sigmoid() * mask_quality(mask_logits)[:, None]  # (Q, K)
        order = score.topk(min(self.top_k, score.shape[0]), dim=0).indices  # (top_k, K)
        taken, chosen = set(), []
        for k in range(score.shape[1]):
            candidates = order[:, k].tolist()
            query = next((q for q in candidates if q not in taken), candidates[0])
            taken.add(query)
            chosen.append(query)
        idx = torch.as_tensor(chosen, dtype=torch.long, device=score.device)
        regions = torch.arange(score.shape[1], device=score.device)
        data_sample.pred_instances = instances_from_masks(mask_logits[idx] > 0,
                                                          score[idx, regions], regions)
