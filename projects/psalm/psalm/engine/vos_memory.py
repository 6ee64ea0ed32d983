"""PSALM's prompt memory for video object segmentation: one rule for the test loop and the demo.

The reference (``psalm/eval/eval_davis.py``, ``with_memory=True``) prompts frame ``t`` with the
masks predicted on frame ``t - 1``, starting from the first frame's given masks. The predictions
replace the prompts only when the object count matches and no two of them overlap with IoU > 0.4;
otherwise the last good prompts are kept. One addition of ours: an object whose predicted mask is
empty (it left the frame or was lost) keeps its previous prompt, so that it can be found again (an
empty prompt has nothing to pool).
"""
from typing import Tuple

import numpy as np


def max_pairwise_iou(masks: np.ndarray) -> float:
    """Largest IoU between two of the (K, H, W) bool masks (0 for fewer than two)."""
    flat = masks.reshape(len(masks), -1).astype(np.float64)
    if len(flat) < 2:
        return 0.0
    inter = flat @ flat.T
    area = flat.sum(1)
    union = area[:, None] + area[None, :] - inter
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = np.where(union > 0, inter / union, 0.0)
    np.fill_diagonal(iou, 0.0)
    return float(iou.max())


def next_prompts(prompts: np.ndarray, predicted: np.ndarray,
                 iou_thr: float = 0.4) -> Tuple[np.ndarray, bool]:
    """The prompts of the next frame.

    Args:
        prompts: (K, H, W) bool prompts of the frame just predicted.
        predicted: (K', H, W) masks predicted on it, in the same order and coordinates.
        iou_thr: predictions are rejected when two of them overlap above it.

    Returns:
        (K, H, W) bool prompts and whether the predictions were taken.
    """
    prompts = np.asarray(prompts).astype(bool)
    predicted = np.asarray(predicted).astype(bool)
    if predicted.shape != prompts.shape or max_pairwise_iou(predicted) > iou_thr:
        return prompts, False
    empty = ~predicted.reshape(len(predicted), -1).any(1)
    predicted = predicted.copy()
    predicted[empty] = prompts[empty]
    return predicted, True


class VOSMemory:
    """The prompts of one video, updated frame by frame with :func:`next_prompts`.

    Args:
        first_masks: (K, H, W) bool masks of the first frame.
        iou_thr: predictions are rejected as prompts when two of them overlap above it (0.4).
    """

    def __init__(self, first_masks: np.ndarray, iou_thr: float = 0.4) -> None:
        self.masks = np.asarray(first_masks).astype(bool)
        self.iou_thr = iou_thr

    def update(self, pred_masks: np.ndarray) -> bool:
        """Take (K, H, W) predictions as the next prompts if they pass the check; returns
        whether they did."""
        self.masks, taken = next_prompts(self.masks, pred_masks, self.iou_thr)
        return taken
