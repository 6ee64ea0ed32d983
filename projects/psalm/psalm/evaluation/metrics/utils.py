"""Helpers shared by the PSALM metrics: mask conversion and exact, order-free reductions.

Metrics keep one record of plain Python numbers per sample in ``self.results`` (mmengine's
``collect_results`` truncates the gathered list to the dataset size, so there must be exactly one
record per sample). Pixel counts are Python ints and float sums use :func:`math.fsum`, so the
final numbers do not depend on the batch size, the number of processes or the order in which the
records are gathered.
"""
import math
from typing import Any, Iterable, Optional, Sequence, Tuple

import numpy as np
import torch

from mmdet.structures.mask import BaseInstanceMasks


def to_bool_masks(masks: Any, shape: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """Masks in any of the forms a sample may carry -> bool array (N, H, W) on the CPU.

    Accepts mmdet ``BitmapMasks`` / ``PolygonMasks``, torch tensors, numpy arrays, a list of
    (H, W) masks, or None. A single (H, W) mask becomes (1, H, W). ``shape`` is the (H, W) used
    for an empty list or None (0 masks), and checked against the masks otherwise.
    """
    if masks is None or (isinstance(masks, (list, tuple)) and len(masks) == 0):
        if shape is None:
            raise ValueError('cannot tell the size of an empty mask list without a shape')
        return np.zeros((0, *shape), dtype=bool)
    if isinstance(masks, BaseInstanceMasks):
        array = masks.to_ndarray()
    elif isinstance(masks, torch.Tensor):
        array = masks.detach().cpu().numpy()
    elif isinstance(masks, (list, tuple)):
        array = np.stack([to_bool_masks(m)[0] for m in masks])
    else:
        array = np.asarray(masks)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise ValueError(f'expected masks of shape (N, H, W) or (H, W), got {array.shape}')
    if shape is not None and tuple(array.shape[1:]) != tuple(shape):
        raise ValueError(f'masks of size {tuple(array.shape[1:])} where {tuple(shape)} was '
                         'expected: predictions and ground truth must both be at ori_shape')
    return array.astype(bool, copy=False)


def union_mask(masks: np.ndarray) -> np.ndarray:
    """(N, H, W) bool -> (H, W) bool: the union (all False for N = 0)."""
    return masks.any(0)


def inter_union(pred: np.ndarray, gt: np.ndarray) -> Tuple[int, int]:
    """Pixel counts |pred ∩ gt| and |pred ∪ gt| of two (H, W) bool masks, as Python ints."""
    if pred.shape != gt.shape:
        raise ValueError(f'prediction {pred.shape} and ground truth {gt.shape} differ in size')
    return int(np.count_nonzero(pred & gt)), int(np.count_nonzero(pred | gt))


def iou(inter: int, union: int, empty: float) -> float:
    """inter / union, or ``empty`` when the union is empty (the rule differs between protocols)."""
    return inter / union if union > 0 else float(empty)


def fmean(values: Iterable[float]) -> float:
    """Mean by :func:`math.fsum` (correctly rounded, hence independent of the order); NaN if
    there are no values."""
    values = list(values)
    return math.fsum(values) / len(values) if values else float('nan')


def ratio(num: float, den: float, empty: float = float('nan')) -> float:
    """num / den, or ``empty`` when den is 0."""
    return num / den if den else float(empty)


def _one_value(value: Any, what: str) -> np.ndarray:
    """A scalar given as is, as a 1-element tensor or array, or as a 1-element list -> 0-d array."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.size != 1:
        raise ValueError(f'expected one {what}, got {array.size} values')
    return array.reshape(())


def scalar_bool(value: Any) -> bool:
    """A flag given as bool, a 1-element tensor or array, or a 1-element list -> bool."""
    return bool(_one_value(value, 'flag'))


def scalar_float(value: Any) -> float:
    """A score given as float, a 1-element tensor or array, or a 1-element list -> float."""
    return float(_one_value(value, 'score'))


def ori_hw(data_sample: dict) -> Optional[Tuple[int, int]]:
    """(H, W) of ``ori_shape`` when the sample carries it."""
    shape = data_sample.get('ori_shape')
    return None if shape is None else (int(shape[0]), int(shape[1]))


def pred_masks(data_sample: dict, shape: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """``pred_instances.masks`` of a sample as bool (N, H, W)."""
    instances = data_sample.get('pred_instances')
    if instances is None or 'masks' not in instances:
        raise KeyError('the sample has no pred_instances.masks')
    return to_bool_masks(instances['masks'], shape)


def labels_or_range(instances: Any, n: int) -> Sequence[int]:
    """``labels`` of ``pred_instances`` as ints, or 0..n-1 when absent."""
    labels = instances.get('labels') if instances is not None else None
    if labels is None:
        return list(range(n))
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    return [int(x) for x in np.asarray(labels).reshape(-1)]
