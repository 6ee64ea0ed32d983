"""Visual prompts (points, scribbles, boxes, masks) rasterised into region masks.

Shared by the data pipelines and the inferencer, so both draw prompts the same way. Radii follow the
reference implementation: a point becomes a disk of radius 10 px and a scribble a 5 px-radius
stroke, drawn at the original image resolution before any resize.
"""
from typing import Sequence, Tuple

import cv2
import numpy as np

POINT_RADIUS = 10
SCRIBBLE_RADIUS = 5
PROMPT_TYPES = ('point', 'scribble', 'box', 'mask')


def _check_shape(shape: Tuple[int, int]) -> Tuple[int, int]:
    h, w = int(shape[0]), int(shape[1])
    if h <= 0 or w <= 0:
        raise ValueError(f'invalid image shape {shape}')
    return h, w


def point_to_mask(points: Sequence[Sequence[float]], shape: Tuple[int, int],
                  radius: int = POINT_RADIUS) -> np.ndarray:
    """Disks of ``radius`` around (x, y) points -> (H, W) bool mask."""
    h, w = _check_shape(shape)
    mask = np.zeros((h, w), np.uint8)
    for x, y in np.asarray(points, dtype=np.float64).reshape(-1, 2):
        cv2.circle(mask, (int(round(x)), int(round(y))), radius, 1, thickness=-1)
    return mask.astype(bool)


def scribble_to_mask(polylines: Sequence[Sequence[Sequence[float]]], shape: Tuple[int, int],
                     radius: int = SCRIBBLE_RADIUS) -> np.ndarray:
    """Polylines of (x, y) vertices dilated by a disk of ``radius`` -> (H, W) bool mask."""
    h, w = _check_shape(shape)
    mask = np.zeros((h, w), np.uint8)
    for line in polylines:
        pts = np.round(np.asarray(line, dtype=np.float64).reshape(-1, 2)).astype(np.int32)
        cv2.polylines(mask, [pts], isClosed=False, color=1, thickness=1, lineType=cv2.LINE_8)
        if len(pts) == 1:
            mask[np.clip(pts[0, 1], 0, h - 1), np.clip(pts[0, 0], 0, w - 1)] = 1
    if not mask.any():
        return mask.astype(bool)
    # Exact dilation by a disk: Euclidean distance to the 1-px stroke.
    dist = cv2.distanceTransform((mask == 0).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return dist <= radius


def box_to_mask(boxes: Sequence[Sequence[float]], shape: Tuple[int, int]) -> np.ndarray:
    """Filled (x1, y1, x2, y2) boxes -> (H, W) bool mask."""
    h, w = _check_shape(shape)
    mask = np.zeros((h, w), bool)
    for x1, y1, x2, y2 in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
        x1, x2 = sorted((x1, x2))
        y1, y2 = sorted((y1, y2))
        mask[max(int(np.floor(y1)), 0):min(int(np.ceil(y2)), h),
             max(int(np.floor(x1)), 0):min(int(np.ceil(x2)), w)] = True
    return mask
