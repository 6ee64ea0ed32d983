"""Helpers shared by the task post-processors."""
from typing import Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.structures.mask import mask2bbox


def mask_logits_to_image(mask_logits: Tensor, batch_input_shape: Tuple[int, int],
                         img_shape: Tuple[int, int], ori_shape: Tuple[int, int],
                         rescale: bool = True) -> Tensor:
    """(Q, h, w) decoder logits -> (Q, H, W) logits on the original image (or the resized one).

    Upsample to the padded canvas, crop the valid area, then resize to the original size.
    """
    logits = F.interpolate(mask_logits[None], size=tuple(batch_input_shape), mode='bilinear',
                           align_corners=False)
    logits = logits[:, :, :img_shape[0], :img_shape[1]]
    if rescale and tuple(ori_shape[:2]) != tuple(img_shape[:2]):
        logits = F.interpolate(logits, size=tuple(ori_shape[:2]), mode='bilinear',
                               align_corners=False)
    return logits[0]


def mask_quality(mask_logits: Tensor) -> Tensor:
    """(Q,) mean foreground probability inside each binary mask (logit > 0)."""
    binary = (mask_logits > 0).flatten(1).to(mask_logits.dtype)
    prob = mask_logits.sigmoid().flatten(1)
    return (prob * binary).sum(1) / (binary.sum(1) + 1e-6)


def instances_from_masks(masks: Tensor, scores: Tensor, labels: Tensor) -> InstanceData:
    """InstanceData with bool masks, their boxes, scores and labels (what mmdet metrics read)."""
    masks = masks.bool()
    return InstanceData(masks=masks, bboxes=mask2bbox(masks), scores=scores, labels=labels.long())
