"""DAVIS-2017 semi-supervised video object segmentation (evaluation), read from the official layout.

::

    data/DAVIS/
      ImageSets/2017/val.txt            video names, one per line (30 for val)
      JPEGImages/480p/<video>/00000.jpg, 00001.jpg, ...
      Annotations/480p/<video>/00000.png, ...   indexed PNGs: palette index = object id,
                                                 0 background, 255 void

The reference (``datasets/build_DAVIS.py``, ``psalm/eval/eval_davis.py``) predicts every frame from
frame 1 on, prompting with the first frame's masks and later with its own predictions on the
previous frame ("memory"). The memory belongs to evaluation; samples here expose what it needs.
"""
import os.path as osp
import re
from typing import List, Optional

import mmcv
import numpy as np
import pycocotools.mask as mask_util
from mmcv.transforms import BaseTransform
from mmengine import fileio

from mmdet.datasets import BaseDetDataset
from mmdet.registry import DATASETS, TRANSFORMS
from mmdet.structures.mask import BitmapMasks

VOID_ID = 255  # DAVIS marks unlabelled pixels with 255; never an object


def read_davis_annotation(path: str, backend_args: Optional[dict] = None) -> np.ndarray:
    """Read a DAVIS annotation as an (H, W) uint8 map of object ids (the palette indices)."""
    # Pillow keeps palette indices; OpenCV would expand the palette to colours.
    seg = mmcv.imfrombytes(fileio.get(path, backend_args=backend_args), flag='unchanged',
                           backend='pillow')
    if seg is None or seg.ndim != 2:
        raise ValueError(f'{path}: expected an indexed (palette) PNG whose values are object ids,'
                         f' got an image of shape {None if seg is None else seg.shape}')
    return seg


def _frame_key(name: str) -> list:
    # Numeric-aware order (DAVIS names are zero-padded, but do not rely on it).
    return [int(part) if part.isdigit() else part for part in re.split(r'(\d+)', name)]


def _encode(mask: np.ndarray) -> dict:
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    return dict(size=[int(s) for s in rle['size']], counts=rle['counts'].decode('ascii'))


@DATASETS.register_module()
class DAVISDataset(BaseDetDataset):
    """DAVIS-2017 semi-supervised VOS: one sample per frame from frame 1 on.

    Samples are ordered video by video (``ann_file`` order), frames in file-name order, so a
    sequential sampler visits each video's frames in time order. The tracked objects of a video are
    those of its first-frame annotation, in ascending object id; an object absent from a frame
    keeps an (empty) mask, so mask ``k`` is always object ``object_ids[k]``. Ids that appear only
    after frame 0 are not tracked (semi-supervised protocol). Unlike the reference, which drops the
    objects missing from a frame's ground truth (a GT-dependent choice), every object is kept;
    :class:`LoadDAVISAnnotations` reports ``object_present`` for evaluators that want the
    reference's behaviour.

    Each data info holds ``img_path``, ``seg_map_path`` (None for unannotated frames when
    ``require_all_annotations=False``), ``img_id`` (``'<video>/<frame>'``), ``height``/``width``
    (of the first annotation), ``task='vos'``, ``video_name``, ``frame_index`` (position in the
    video, >= 1), ``frame_name``, ``num_frames``, ``object_ids``, ``visual_prompts`` (one
    ``{'type': 'mask', 'data': RLE}`` of the first-frame mask per object, for
    :class:`~psalm.datasets.LoadVisualPrompts`), ``first_frame`` and ``first_frame_seg_map_path``
    (frame 0's image and annotation: the prompt image of the reference), and ``prev_frame_path``
    (frame ``i - 1``'s image, where the reference's memory takes its prompts from the predicted
    masks).

    Args:
        ann_file: the video list, e.g. ``ImageSets/2017/val.txt``.
        data_prefix: ``img`` (frames) and ``seg`` (annotations) folders, holding one folder per
            video.
        img_suffix: frame file suffix.
        seg_map_suffix: annotation file suffix.
        require_all_annotations: every frame must have its annotation (val); False allows
            unannotated frames after frame 0 (test-dev), whose samples carry no ground truth.
        **kwargs: :class:`~mmdet.datasets.BaseDetDataset` arguments.
    """
    METAINFO = dict(dataset_name='DAVIS-2017')

    def __init__(self, *args, ann_file: str = 'ImageSets/2017/val.txt',
                 data_prefix: dict = dict(img='JPEGImages/480p/', seg='Annotations/480p/'),
                 img_suffix: str = '.jpg', seg_map_suffix: str = '.png',
                 require_all_annotations: bool = True, **kwargs) -> None:
        self.img_suffix = img_suffix
        self.require_all_annotations = require_all_annotations
        super().__init__(*args, ann_file=ann_file, data_prefix=data_prefix,
                         seg_map_suffix=seg_map_suffix, **kwargs)

    def _videos(self) -> List[str]:
        if not fileio.exists(self.ann_file, backend_args=self.backend_args):
            raise FileNotFoundError(f'DAVIS video list {self.ann_file} not found (expected '
                                    'ImageSets/2017/val.txt of the DAVIS-2017 trainval release)')
        videos = [line.strip() for line in fileio.list_from_file(
            self.ann_file, backend_args=self.backend_args) if line.strip()]
        if not videos:
            raise ValueError(f'DAVIS video list {self.ann_file} is empty')
        return videos

    def _video_samples(self, video: str) -> List[dict]:
        img_dir = osp.join(self.data_prefix['img'], video)
        seg_dir = osp.join(self.data_prefix['seg'], video)
        if not fileio.isdir(img_dir, backend_args=self.backend_args):
            raise FileNotFoundError(f'DAVIS: frame folder {img_dir} of video {video!r} (listed '
                                    f'in {self.ann_file}) not found')
        frames = sorted(fileio.list_dir_or_file(img_dir, list_dir=False, suffix=self.img_suffix,
                                                backend_args=self.backend_args), key=_frame_key)
        if not frames:
            raise FileNotFoundError(f'DAVIS: no *{self.img_suffix} frames in {img_dir}')
        names = [frame[:-len(self.img_suffix)] for frame in frames]
        seg_paths = [osp.join(seg_dir, name + self.seg_map_suffix) for name in names]
        exists = [fileio.exists(p, backend_args=self.backend_args) for p in seg_paths]
        if not exists[0]:
            raise FileNotFoundError(f'DAVIS: first-frame annotation {seg_paths[0]} of video '
                                    f'{video!r} not found (it holds the objects to track)')
        missing = [p for p, ok in zip(seg_paths, exists) if not ok]
        if missing and self.require_all_annotations:
            raise FileNotFoundError(f'DAVIS: {len(missing)} annotation(s) of video {video!r} '
                                    f'missing, e.g. {missing[:3]} (require_all_annotations=True)')
        first = read_davis_annotation(seg_paths[0], self.backend_args)
        object_ids = [int(i) for i in np.unique(first) if i not in (0, VOID_ID)]
        if not object_ids:
            raise ValueError(f'DAVIS: first-frame annotation {seg_paths[0]} has no object')
        prompts = [dict(type='mask', data=_encode(first == i)) for i in object_ids]
        img_paths = [osp.join(img_dir, frame) for frame in frames]
        samples = []
        for index in range(1, len(frames)):
            samples.append(dict(
                img_path=img_paths[index],
                seg_map_path=seg_paths[index] if exists[index] else None,
                img_id=f'{video}/{names[index]}',
                height=first.shape[0], width=first.shape[1],
                task='vos', video_name=video, frame_index=index, frame_name=names[index],
                num_frames=len(frames), object_ids=list(object_ids),
                visual_prompts=[dict(p) for p in prompts],
                first_frame=img_paths[0], first_frame_seg_map_path=seg_paths[0],
                prev_frame_path=img_paths[index - 1]))
        return samples

    def load_data_list(self) -> List[dict]:
        data_list = []
        for video in self._videos():
            data_list.extend(self._video_samples(video))
        return data_list


@TRANSFORMS.register_module()
class LoadDAVISAnnotations(BaseTransform):
    """Ground truth of a DAVIS frame, one mask per tracked object.

    Mask ``k`` is where the frame's indexed PNG equals ``object_ids[k]`` (empty when the object is
    absent). Writes ``gt_masks`` (:class:`BitmapMasks` at the annotation's size),
    ``gt_bboxes_labels`` (``k``: labels are region indices, as the interactive post-processor
    writes them) and ``object_present`` (per object, whether its mask is non-empty). Samples
    without an annotation (``seg_map_path`` None) are left without ground truth. Like mmdet's test
    pipelines, place it after ``Resize`` so the masks stay at the original size.
    """

    def __init__(self, backend_args: Optional[dict] = None) -> None:
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        path = results.get('seg_map_path')
        if path is None:
            return results
        seg = read_davis_annotation(path, self.backend_args)
        h, w = seg.shape
        if 'ori_shape' in results and tuple(results['ori_shape'][:2]) != (h, w):
            raise ValueError(f'{path} is {(h, w)}, its frame {results.get("img_path")} is '
                             f'{tuple(results["ori_shape"][:2])}')
        ids = results['object_ids']
        masks = np.zeros((len(ids), h, w), np.uint8)
        for k, object_id in enumerate(ids):
            masks[k] = seg == object_id
        results['gt_masks'] = BitmapMasks(masks, h, w)
        results['gt_bboxes_labels'] = np.arange(len(ids), dtype=np.int64)
        results['object_present'] = [bool(m.any()) for m in masks]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(backend_args={self.backend_args})'
