"""DAVIS-2017 semi-supervised video object segmentation: J, F and J&F (official definitions)."""
import math
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
from mmengine.evaluator import BaseMetric
from PIL import Image

from mmdet.registry import METRICS
from psalm.utils.atomic_io import write_bytes_atomic
from psalm.visualization.palette import encode_indexed_png
from .utils import fmean, inter_union, iou, labels_or_range, ori_hw, pred_masks, to_bool_masks


def seg2bmap(mask: np.ndarray) -> np.ndarray:
    """One-pixel-wide boundary map of a binary (H, W) mask, as the DAVIS toolkit's
    ``_seg2bmap`` at full size: a pixel is on the boundary when it differs from its right,
    lower or lower-right neighbour. Outside the image the last row / column repeat (so the
    image border is not a boundary: a mask covering the whole image has none)."""
    mask = mask.astype(bool)
    padded = np.pad(mask, ((0, 1), (0, 1)), mode='edge')
    return (mask != padded[:-1, 1:]) | (mask != padded[1:, :-1]) | (mask != padded[1:, 1:])


def disk(radius: float) -> np.ndarray:
    """Disk structuring element: offsets (dy, dx) with dy² + dx² ≤ radius² (skimage's
    ``morphology.disk``, which the toolkit uses)."""
    r = int(radius)
    offsets = np.arange(-r, r + 1)
    return (offsets[:, None]**2 + offsets[None, :]**2 <= radius**2).astype(np.uint8)


def boundary_radius(shape: Sequence[int], bound_th: float = 0.008) -> float:
    """Boundary tolerance in pixels: ``bound_th`` itself if ≥ 1, else
    ``ceil(bound_th · ‖(H, W)‖)`` (8 px at 480 × 854)."""
    return float(bound_th) if bound_th >= 1 else math.ceil(bound_th * math.hypot(*shape[:2]))


def f_measure(pred: np.ndarray, gt: np.ndarray, bound_th: float = 0.008) -> float:
    """DAVIS boundary F-measure of two binary (H, W) masks.

    Boundaries by :func:`seg2bmap`; a predicted boundary pixel is correct when it lies within
    the tolerance disk of a ground-truth boundary pixel (precision), and vice versa (recall);
    ``F = 2PR / (P + R)`` (0 if ``P + R = 0``). With no boundary pixels in one of them:
    neither → F = 1; none predicted → P = 1, R = 0; none in the ground truth → P = 0, R = 1.
    """
    pred_b, gt_b = seg2bmap(pred), seg2bmap(gt)
    n_pred, n_gt = int(pred_b.sum()), int(gt_b.sum())
    if n_pred == 0 and n_gt == 0:
        return 1.0
    if n_pred == 0 or n_gt == 0:
        return 0.0  # P = 1, R = 0 or P = 0, R = 1
    kernel = disk(boundary_radius(pred.shape, bound_th))
    pred_dil = cv2.dilate(pred_b.astype(np.uint8), kernel).astype(bool)
    gt_dil = cv2.dilate(gt_b.astype(np.uint8), kernel).astype(bool)
    precision = np.count_nonzero(pred_b & gt_dil) / n_pred
    recall = np.count_nonzero(gt_b & pred_dil) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def _first(data_sample: dict, *keys: str):
    for key in keys:
        if data_sample.get(key) is not None:
            return data_sample[key]
    raise KeyError(f'the sample has no {" / ".join(keys)} metainfo')


@METRICS.register_module()
class DAVISMetric(BaseMetric):
    """J, F and J&F of semi-supervised VOS, as the official davis2017-evaluation toolkit.

    Each sample is one frame. Metainfo read (as ``DAVISDataset`` + ``LoadDAVISAnnotations``
    write it; ``video`` / ``frame_id`` are accepted for the first two):

    - ``video_name`` (str) and ``frame_index`` (int, 0-based position of the frame in its
      video; ``DAVISDataset`` starts at 1, frame 0 being the prompt);
    - ``num_frames`` (int, optional): frames in the video, to know the last one; without it
      the largest ``frame_index`` received for the video is taken as the last frame;
    - ``object_ids`` (optional): DAVIS object id (1..255) of each region, in region order
      (default 1..K);
    - ``gt_masks`` (K, H, W) at ``ori_shape``: region k's ground truth (empty where the object
      is absent);
    - ``frame_name`` (optional): file name of the written PNG.

    Predictions: ``pred_instances.masks``, one per region (``labels`` = region index when
    present). They are first painted into one index map in region order, a later region
    overwriting an earlier one (as PSALM's ``eval_davis.py`` writes its PNGs), so the scores are
    those the toolkit computes from the written PNG.

    Definitions (``davis2017/metrics.py``, ``evaluation.py``), per object and frame:

    - ``J = |P ∩ G| / |P ∪ G|``, 1 when the union is empty (object absent from both);
    - ``F``: boundary F-measure (:func:`f_measure`) with tolerance
      ``ceil(bound_th · ‖(H, W)‖)``, ``bound_th = 0.008``; 1 when both have no boundary.

    The first and last frames of every video are excluded (index 0 and the last
    frame), as the toolkit does for the semi-supervised task. An object listed in some frame
    but not in another counts as absent from both prediction and ground truth there (J = F = 1).
    Per object, the mean over its frames; ``J-Mean`` / ``F-Mean`` = 100 · mean over all objects
    of all videos; ``J&F-Mean = (J-Mean + F-Mean) / 2``; ``J-Recall`` / ``F-Recall`` = 100 ·
    mean over objects of the share of frames scoring > 0.5. The toolkit maps void pixels (255)
    to background before scoring, so void plays no role here either. Not computed: decay.

    Args:
        bound_th: boundary tolerance (fraction of the diagonal if < 1, else pixels).
        exclude_first_last: drop the first and last frame of each video (semi-supervised).
        outfile_prefix: if set, write each frame's index map (value = object id, VOC palette)
            to ``<outfile_prefix>/<video>/<frame>.png`` for the official toolkit; ``<frame>``
            is ``frame_name``, else the ``img_path`` stem, else the frame index as 5 digits.
            The toolkit also reads frame 0, which is the prompt, not a prediction: when a
            sample carries ``first_frame_seg_map_path`` (``DAVISDataset``), that annotation is
            written as ``<video>/<its stem>.png``, restricted to the tracked ``object_ids``
            (void and other ids become background), as semi-supervised methods submit it.
        format_only: only write the PNGs (no ground truth needed); returns no metrics.
        **kwargs: ``collect_device``, ``prefix``.
    """

    default_prefix: Optional[str] = 'davis'

    def __init__(self, bound_th: float = 0.008, exclude_first_last: bool = True,
                 outfile_prefix: Optional[str] = None, format_only: bool = False,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if format_only and outfile_prefix is None:
            raise ValueError('format_only needs an outfile_prefix to write to')
        self.bound_th = bound_th
        self.exclude_first_last = exclude_first_last
        self.outfile_prefix = outfile_prefix
        self.format_only = format_only
        self._first_written = set()  # videos whose frame-0 PNG this process wrote

    def _index_map(self, data_sample: dict, object_ids: List[int], shape) -> np.ndarray:
        pred = pred_masks(data_sample, shape)
        regions = labels_or_range(data_sample['pred_instances'], len(pred))
        index_map = np.zeros(pred.shape[1:], dtype=np.uint8)
        for region, mask in sorted(zip(regions, pred), key=lambda x: x[0]):
            if not 0 <= region < len(object_ids):
                raise ValueError(f'prediction for region {region} of {len(object_ids)}')
            index_map[mask] = object_ids[region]
        return index_map

    def _save_index_map(self, video: str, frame: str, index_map: np.ndarray) -> None:
        # Written whole then renamed: a reader (or another rank) never sees half a PNG.
        write_bytes_atomic(osp.join(self.outfile_prefix, video, f'{frame}.png'),
                           encode_indexed_png(index_map))

    def _write_png(self, data_sample: dict, video: str, frame_id: int,
                   index_map: np.ndarray) -> None:
        frame, img_path = data_sample.get('frame_name'), data_sample.get('img_path')
        if frame is None:
            frame = osp.splitext(osp.basename(img_path))[0] if img_path else f'{frame_id:05d}'
        self._save_index_map(video, frame, index_map)

    def _write_first_frame(self, data_sample: dict, video: str, object_ids: List[int]) -> None:
        path = data_sample.get('first_frame_seg_map_path')
        if path is None or video in self._first_written:
            return
        seg = np.array(Image.open(path))
        if seg.ndim != 2:
            raise ValueError(f'{path}: expected an indexed (palette) PNG of object ids, got an '
                             f'image of shape {seg.shape}')
        index_map = np.where(np.isin(seg, object_ids), seg, 0).astype(np.uint8)
        self._save_index_map(video, osp.splitext(osp.basename(path))[0], index_map)
        self._first_written.add(video)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Score every object of each frame (one record per frame); write the PNG if asked."""
        for data_sample in data_samples:
            video = str(_first(data_sample, 'video_name', 'video'))
            frame_id = int(_first(data_sample, 'frame_index', 'frame_id'))
            shape = ori_hw(data_sample)
            gt = None
            if not self.format_only:
                if data_sample.get('gt_masks') is None:
                    raise KeyError(f'frame {frame_id} of {video!r} has no gt_masks metainfo '
                                   '(use format_only=True for frames without annotations)')
                gt = to_bool_masks(data_sample['gt_masks'], shape)
                shape = gt.shape[1:]
            object_ids = data_sample.get('object_ids')
            if object_ids is None:
                n = len(gt) if gt is not None else len(pred_masks(data_sample))
                object_ids = list(range(1, n + 1))
            object_ids = [int(o) for o in np.asarray(object_ids).reshape(-1)]
            if len(set(object_ids)) != len(object_ids) or not all(0 < o < 256
                                                                  for o in object_ids):
                raise ValueError(f'object_ids must be distinct ids in 1..255, got {object_ids}')
            index_map = self._index_map(data_sample, object_ids, shape)
            if self.outfile_prefix is not None:
                self._write_png(data_sample, video, frame_id, index_map)
                self._write_first_frame(data_sample, video, object_ids)
            scores = {}
            if gt is not None:
                if len(gt) != len(object_ids):
                    raise ValueError(f'{len(gt)} ground-truth masks for {len(object_ids)} objects')
                for obj, target in zip(object_ids, gt):
                    pred = index_map == obj
                    scores[obj] = (iou(*inter_union(pred, target), 1.0),
                                   f_measure(pred, target, self.bound_th))
            num_frames = data_sample.get('num_frames')
            self.results.append(
                dict(video=video, frame_id=frame_id, scores=scores,
                     num_frames=None if num_frames is None else int(num_frames)))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        if self.format_only:
            return {}
        by_video: Dict[str, List[dict]] = defaultdict(list)
        for record in results:
            by_video[record['video']].append(record)
        per_object = []  # (J mean, F mean, J recall, F recall) of every object
        for video in sorted(by_video):
            frames = sorted(by_video[video], key=lambda r: r['frame_id'])
            ids = [r['frame_id'] for r in frames]
            if len(set(ids)) != len(ids):
                raise ValueError(f'video {video!r}: a frame was received twice')
            lengths = {r['num_frames'] for r in frames} - {None}
            if len(lengths) > 1:
                raise ValueError(f'video {video!r}: inconsistent num_frames {sorted(lengths)}')
            last = lengths.pop() - 1 if lengths else ids[-1]
            if self.exclude_first_last:
                frames = [r for r in frames if r['frame_id'] not in (0, last)]
            objects = sorted({o for r in by_video[video] for o in r['scores']})
            for obj in objects:
                # An object not listed in a frame is absent from it: J = F = 1.
                js = [r['scores'].get(obj, (1.0, 1.0))[0] for r in frames]
                fs = [r['scores'].get(obj, (1.0, 1.0))[1] for r in frames]
                if js:  # a video of one or two frames has nothing left to score
                    per_object.append((fmean(js), fmean(fs), fmean(float(v > 0.5) for v in js),
                                       fmean(float(v > 0.5) for v in fs)))
        j_mean = 100 * fmean(o[0] for o in per_object)
        f_mean = 100 * fmean(o[1] for o in per_object)
        return {
            'J&F-Mean': (j_mean + f_mean) / 2,
            'J-Mean': j_mean,
            'F-Mean': f_mean,
            'J-Recall': 100 * fmean(o[2] for o in per_object),
            'F-Recall': 100 * fmean(o[3] for o in per_object),
        }
