"""Panoptic post-processing (reference / Mask2Former ``panoptic_inference``)."""
from typing import Sequence

import torch
from mmengine.structures import PixelData
from torch import Tensor

from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.registry import TASK_UTILS
from mmdet.structures import DetDataSample


@TASK_UTILS.register_module()
class PanopticPostProcessor:
    """Writes ``pred_panoptic_seg``: ``label + instance_id * INSTANCE_OFFSET`` for things,
    ``label`` for stuff (segments of one stuff class merged), ``num_categories`` for void.

    Args:
        object_mask_thr: minimum category probability of a kept query (0.8).
        overlap_thr: minimum visible / original area of a kept segment (0.8).
    """

    def __init__(self, object_mask_thr: float = 0.8, overlap_thr: float = 0.8) -> None:
        self.object_mask_thr = object_mask_thr
        self.overlap_thr = overlap_thr

    def __call__(self, mask_logits: Tensor, scores: Tensor, data_sample: DetDataSample) -> None:
        """
        Args:
            mask_logits: (Q, H, W) on the output image.
            scores: (Q, C + 1) category logits, ``background`` last.
            data_sample: gets ``pred_panoptic_seg``; its ``is_thing`` metainfo (C bools) says
                which categories are things (all, if absent).
        """
        num_cat = scores.shape[1] - 1
        is_thing: Sequence[bool] = data_sample.metainfo.get('is_thing') or [True] * num_cat
        prob, labels = scores.softmax(-1).max(-1)
        keep = (labels != num_cat) & (prob > self.object_mask_thr)
        masks = mask_logits[keep].sigmoid()
        labels, prob = labels[keep], prob[keep]
        h, w = mask_logits.shape[-2:]
        panoptic = torch.full((h, w), num_cat, dtype=torch.int32, device=mask_logits.device)
        if masks.shape[0]:
            owner = (prob.view(-1, 1, 1) * masks).argmax(0)
            instance_id = 1
            for k in range(masks.shape[0]):
                label = int(labels[k])
                original = masks[k] >= 0.5
                visible = (owner == k) & original
                if original.sum() == 0 or visible.sum() == 0:
                    continue
                if (owner == k).sum() / original.sum() < self.overlap_thr:
                    continue
                if is_thing[label]:
                    panoptic[visible] = label + instance_id * INSTANCE_OFFSET
                    instance_id += 1
                else:
                    panoptic[visible] = label
        data_sample.pred_panoptic_seg = PixelData(sem_seg=panoptic[None])
