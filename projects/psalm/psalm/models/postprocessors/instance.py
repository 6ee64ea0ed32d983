"""Instance post-processing (reference / Mask2Former ``instance_inference``)."""
import torch
from torch import Tensor

from mmdet.registry import TASK_UTILS
from mmdet.structures import DetDataSample
from .utils import instances_from_masks, mask_quality


@TASK_UTILS.register_module()
class InstancePostProcessor:
    """Writes ``pred_instances``: top-k (query, category) pairs scored by category probability
    times mask quality, with boxes from the masks.

    Args:
        max_per_image: k (100).
        things_only: keep only thing categories (the reference does in panoptic mode).
    """

    def __init__(self, max_per_image: int = 100, things_only: bool = True) -> None:
        self.max_per_image = max_per_image
        self.things_only = things_only

    def __call__(self, mask_logits: Tensor, scores: Tensor, data_sample: DetDataSample) -> None:
        num_q, num_cat = scores.shape[0], scores.shape[1] - 1
        prob = scores.softmax(-1)[:, :-1]
        is_thing = data_sample.metainfo.get('is_thing')
        top, idx = prob.flatten().topk(min(self.max_per_image, num_q * num_cat))
        labels, query = idx % num_cat, idx // num_cat
        if self.things_only and is_thing is not None:
            # Top-k over all categories first, then things only (reference order).
            keep = torch.as_tensor([bool(t) for t in is_thing], device=labels.device)[labels]
            top, labels, query = top[keep], labels[keep], query[keep]
        logits = mask_logits[query]
        data_sample.pred_instances = instances_from_masks(logits > 0, top * mask_quality(logits),
                                                          labels)
