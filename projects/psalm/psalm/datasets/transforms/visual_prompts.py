"""Visual prompts of interactive samples -> region masks on the resized image."""
from typing import List, Optional

import cv2
import numpy as np
import pycocotools.mask as mask_util
from mmcv.transforms import BaseTransform

from mmdet.registry import TRANSFORMS
from psalm.structures import (POINT_RADIUS, PROMPT_TYPES, SCRIBBLE_RADIUS, box_to_mask,
                              point_to_mask, scribble_to_mask)


def decode_mask(data, height: int, width: int) -> np.ndarray:
    """A COCO-style mask (RLE dict, compressed or not, or polygons) or an array -> (H, W) bool."""
    if isinstance(data, np.ndarray):
        return data.astype(bool)
    if isinstance(data, dict):
        rle = data
        if isinstance(rle.get('counts'), list):
            rle = mask_util.frPyObjects(rle, height, width)
        elif isinstance(rle.get('counts'), str):
            rle = dict(rle, counts=rle['counts'].encode('ascii'))
        return mask_util.decode(rle).astype(bool)
    if isinstance(data, list):  # polygons
        rles = mask_util.frPyObjects(data, height, width)
        return mask_util.decode(mask_util.merge(rles)).astype(bool)
    raise TypeError(f'cannot decode a mask from {type(data).__name__}')


@TRANSFORMS.register_module()
class LoadVisualPrompts(BaseTransform):
    """Rasterise each region's visual prompt and bring it to the resized image.

    Reads ``results['visual_prompts']``: one dict per region, ``{'type': t, 'data': d}`` with

    - ``point``: ``[[x, y], ...]`` in original pixels, drawn as disks of ``point_radius``;
    - ``scribble``: polylines ``[[[x, y], ...], ...]``, drawn as strokes of ``scribble_radius``;
    - ``box``: ``[x1, y1, x2, y2]``;
    - ``mask``: an RLE dict, polygons or an (H, W) array;

    or, for prompts already rasterised at the original size (e.g. COCO-Interactive's RLE point
    masks), ``{'type': t, 'mask': RLE}``; points and scribbles given that way are dilated with
    the same radii. Prompts are drawn at the original resolution (``ori_shape``) and resized to
    ``img_shape`` with nearest interpolation, as in the reference. Place it after ``Resize``.

    Writes ``results['region_masks']``: (K, h, w) bool array.

    Args:
        point_radius: disk radius of point prompts (10 in the reference).
        scribble_radius: stroke radius of scribbles (5 in the reference).
    """

    def __init__(self, point_radius: int = POINT_RADIUS,
                 scribble_radius: int = SCRIBBLE_RADIUS) -> None:
        self.point_radius = point_radius
        self.scribble_radius = scribble_radius

    def _rasterise(self, prompt: dict, shape) -> np.ndarray:
        kind = prompt.get('type')
        if kind not in PROMPT_TYPES:
            raise ValueError(f'visual prompt type {kind!r} is not one of {PROMPT_TYPES}')
        h, w = shape
        if 'mask' in prompt and kind != 'mask':
            mask = decode_mask(prompt['mask'], h, w)
            if kind in ('point', 'scribble') and mask.any():
                radius = self.point_radius if kind == 'point' else self.scribble_radius
                dist = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2,
                                             cv2.DIST_MASK_PRECISE)
                mask = dist <= radius
            return mask
        data = prompt.get('data', prompt.get('mask'))
        if kind == 'point':
            return point_to_mask(data, shape, self.point_radius)
        if kind == 'scribble':
            return scribble_to_mask(data, shape, self.scribble_radius)
        if kind == 'box':
            return box_to_mask([data], shape)
        return decode_mask(data, h, w)

    def transform(self, results: dict) -> Optional[dict]:
        prompts: List[dict] = results.get('visual_prompts') or []
        ori_h, ori_w = results['ori_shape'][:2]
        img_h, img_w = results['img_shape'][:2]
        masks = np.zeros((len(prompts), img_h, img_w), bool)
        for k, prompt in enumerate(prompts):
            mask = self._rasterise(prompt, (ori_h, ori_w))
            if mask.shape != (ori_h, ori_w):
                raise ValueError(f'visual prompt {k} has shape {mask.shape}, image is '
                                 f'{(ori_h, ori_w)} ({results.get("img_path")})')
            if (img_h, img_w) != (ori_h, ori_w):
                mask = cv2.resize(mask.astype(np.uint8), (img_w, img_h),
                                  interpolation=cv2.INTER_NEAREST).astype(bool)
            masks[k] = mask
        if results.get('flip', False):
            direction = results.get('flip_direction', 'horizontal')
            axes = dict(horizontal=(2, ), vertical=(1, ), diagonal=(1, 2))[direction]
            masks = np.flip(masks, axes).copy()
        results['region_masks'] = masks
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(point_radius={self.point_radius}, '
                f'scribble_radius={self.scribble_radius})')
