"""Loading transforms PSALM needs beyond mmdet's."""
from typing import Optional, Tuple

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform, LoadImageFromFile
from mmengine.fileio import get

from mmdet.datasets.transforms import LoadPanopticAnnotations
from mmdet.registry import TRANSFORMS
from mmdet.structures.mask import BitmapMasks


@TRANSFORMS.register_module()
class LoadPanopticSegments(LoadPanopticAnnotations):
    """Masks of every instance that names a ``segment_id`` (things *and* stuff), read from the
    panoptic PNG, in the order of ``results['instances']``; plus boxes, labels and the semantic
    map as mmdet's ``LoadPanopticAnnotations``. Pair it with
    :class:`~psalm.datasets.PSALMCocoPanopticDataset`.
    """

    def _load_masks_and_semantic_segs(self, results: dict) -> None:
        if results.get('seg_map_path', None) is None:
            return
        png = mmcv.imfrombytes(get(results['seg_map_path'], backend_args=self.backend_args),
                               flag='color', channel_order='rgb')
        if png is None:
            raise ValueError(f'cannot read the panoptic PNG {results["seg_map_path"]}')
        pan = self.rgb2id(png.squeeze())
        if self.with_mask:
            h, w = results['ori_shape']
            masks = [(pan == inst['segment_id']).astype(np.uint8)
                     for inst in results.get('instances', [])]
            results['gt_masks'] = BitmapMasks(masks, h, w)
        if self.with_seg:
            seg = np.full(pan.shape, 255, dtype=np.uint8)  # 255 = void
            for segment in results['segments_info']:
                seg[pan == segment['id']] = segment['category']
            results['gt_seg_map'] = seg


@TRANSFORMS.register_module()
class LoadOptionalImage(LoadImageFromFile):
    """``LoadImageFromFile`` that gives samples without an image (``img_path`` None, e.g.
    text-only instruction data) a black ``blank_size`` image instead of failing.

    Args:
        blank_size: (H, W) of the stand-in image.
    """

    def __init__(self, blank_size: Tuple[int, int] = (32, 32), **kwargs) -> None:
        super().__init__(**kwargs)
        self.blank_size = tuple(blank_size)

    def transform(self, results: dict) -> Optional[dict]:
        if results.get('img_path'):
            return super().transform(results)
        img = np.zeros((*self.blank_size, 3), np.float32 if self.to_float32 else np.uint8)
        results.update(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2])
        return results
