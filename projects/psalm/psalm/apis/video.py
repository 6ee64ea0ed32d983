"""Video object segmentation helpers of the demo: frame lists, first-frame masks, index maps.

The prompt memory (which predictions become the next frame's prompts) is
:class:`psalm.engine.vos_memory.VOSMemory`, shared with the test loop.
"""
import os
import os.path as osp
import re
from typing import List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image


IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')
VOID_ID = 255  # DAVIS marks unlabelled pixels with 255: never an object


def _frame_key(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r'(\d+)', name)]


def list_frames(folder: str) -> List[str]:
    """Image files of ``folder`` in numeric-aware name order (``2.jpg`` before ``10.jpg``)."""
    if not osp.isdir(folder):
        raise FileNotFoundError(f'frames folder {folder!r} not found')
    names = [n for n in os.listdir(folder) if n.lower().endswith(IMAGE_SUFFIXES)
             and osp.isfile(osp.join(folder, n))]
    if len(names) < 2:
        raise ValueError(f'frames folder {folder!r} holds {len(names)} image(s) '
                         f'({"/".join(IMAGE_SUFFIXES)}); a video needs at least 2')
    return [osp.join(folder, n) for n in sorted(names, key=_frame_key)]


def read_object_masks(path: str, shape: Optional[Tuple[int, int]] = None
                      ) -> Tuple[np.ndarray, List[int]]:
    """A first-frame annotation (indexed PNG, palette index = object id, 0 background, 255 void)
    -> (K, H, W) bool masks and the K object ids in ascending order."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'first-frame mask {path!r} not found')
    try:
        with Image.open(path) as img:
            mode = img.mode
            seg = np.asarray(img)
    except Exception as err:
        raise ValueError(f'cannot read the first-frame mask {path!r} ({err})') from err
    if seg.ndim != 2 or mode not in ('P', 'L'):
        raise ValueError(f'first-frame mask {path!r} must be an indexed (palette) or grayscale '
                         f'PNG whose values are object ids, got mode {mode} of shape {seg.shape}')
    if shape is not None and seg.shape != tuple(shape):
        raise ValueError(f'first-frame mask {path!r} is {seg.shape[1]}x{seg.shape[0]} (WxH), the '
                         f'frames are {shape[1]}x{shape[0]}')
    ids = [int(i) for i in np.unique(seg) if i not in (0, VOID_ID)]
    if not ids:
        raise ValueError(f'first-frame mask {path!r} has no object (only 0 and {VOID_ID})')
    return np.stack([seg == i for i in ids]), ids


def masks_to_index_map(masks: np.ndarray, scores: Sequence[float],
                       object_ids: Sequence[int]) -> np.ndarray:
    """(K, H, W) bool masks -> (H, W) uint8 map of object ids; overlaps go to the higher score."""
    index = np.zeros(masks.shape[1:], np.uint8)
    best = np.full(masks.shape[1:], -np.inf)
    for mask, score, obj in zip(masks, scores, object_ids):
        win = mask & (score > best)
        index[win] = obj
        best[win] = score
    return index
