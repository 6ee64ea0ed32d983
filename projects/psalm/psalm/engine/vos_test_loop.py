"""Semi-supervised video object segmentation with PSALM's memory (the reference's
``eval_davis.py --with_memory``): the previous frame's predicted masks become the visual prompts of
the next frame.

The model stays unaware of videos: it segments each frame from the ``region_masks`` of its sample
(``DAVISDataset`` + ``LoadVisualPrompts`` fill them with the first frame's masks). This loop feeds
the frames of a video in time order and, between two frames, replaces the next frame's
``region_masks`` by the prediction on the previous one, in the same coordinates as
``LoadVisualPrompts`` (drawn at ``ori_shape``, resized to ``img_shape`` with nearest
interpolation).
"""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Union

import cv2
import numpy as np
import torch
from mmengine.dist import get_dist_info
from mmengine.evaluator import Evaluator
from mmengine.runner import TestLoop, autocast
from mmengine.runner.loops import _update_losses
from torch.utils.data import DataLoader

from mmdet.registry import LOOPS
from .vos_memory import next_prompts


def _frames_by_video(dataset) -> 'OrderedDict[str, List[int]]':
    """Dataset indices of every video, in time order (videos in dataset order)."""
    frames: 'OrderedDict[str, List[tuple]]' = OrderedDict()
    for idx in range(len(dataset)):
        info = dataset.get_data_info(idx)
        if 'video_name' not in info or 'frame_index' not in info:
            raise KeyError(f'{type(dataset).__name__}[{idx}] has no video_name / frame_index: '
                           'VOSTestLoop needs a video dataset such as DAVISDataset')
        frames.setdefault(str(info['video_name']), []).append((int(info['frame_index']), idx))
    ordered = OrderedDict()
    for video, items in frames.items():
        items.sort()
        indices = [f for f, _ in items]
        if len(set(indices)) != len(indices):
            raise ValueError(f'video {video!r}: a frame_index appears twice in the dataset')
        ordered[video] = [idx for _, idx in items]
    return ordered


def video_batches(videos: 'OrderedDict[str, List[int]]', batch_size: int, rank: int = 0,
                  world_size: int = 1) -> List[List[int]]:
    """The batches of dataset indices that ``rank`` runs.

    Videos are sharded across ranks whole (a video needs its previous frame's prediction): the
    longest first, each to the rank with the fewest frames so far (ties: the lowest rank). On a
    rank, ``batch_size`` lanes run videos in parallel, each lane taking the rank's next video
    (dataset order) when its own ends; a batch holds the next frame of every busy lane, so it
    never holds two frames of one video and frame ``t`` of a video always comes in an earlier
    batch than frame ``t + 1``.

    Args:
        videos: video -> its dataset indices in time order (dataset order of videos).
        batch_size: number of lanes (videos in parallel).
        rank: this process's rank.
        world_size: number of processes.

    Returns:
        list of batches, each a list of dataset indices.
    """
    if batch_size < 1 or world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f'bad batch_size={batch_size}, rank={rank}, world_size={world_size}')
    names = list(videos)
    load = [0] * world_size
    owner = {}
    for name in sorted(names, key=lambda n: (-len(videos[n]), names.index(n))):
        target = min(range(world_size), key=lambda r: (load[r], r))
        owner[name] = target
        load[target] += len(videos[name])
    queue = [list(videos[n]) for n in names if owner[n] == rank]
    lanes: List[Optional[List[int]]] = [None] * batch_size
    batches = []
    while True:
        for k in range(batch_size):
            if not lanes[k] and queue:
                lanes[k] = queue.pop(0)
        batch = [lane.pop(0) for lane in lanes if lane]
        if not batch:
            return batches
        batches.append(batch)


def _resize_masks(masks: np.ndarray, hw: Sequence[int]) -> np.ndarray:
    """(K, H, W) bool -> (K, h, w) bool, nearest interpolation (as ``LoadVisualPrompts``)."""
    h, w = int(hw[0]), int(hw[1])
    if masks.shape[1:] == (h, w):
        return masks.astype(bool)
    return np.stack([
        cv2.resize(m.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
        for m in masks
    ]) if len(masks) else np.zeros((0, h, w), bool)


@LOOPS.register_module()
class VOSTestLoop(TestLoop):
    """Test loop for semi-supervised VOS with the previous-frame memory of the reference.

    Frames are run video by video in time order (see :func:`video_batches`): ``batch_size`` of
    the test dataloader is the number of videos run in parallel, and under a distributed launcher
    each rank runs whole videos (the dataloader's sampler is replaced; its workers, collate
    function and batch size are kept). Each metric still receives one record per frame.

    Memory (``memory=True``, the reference's ``with_memory``): after frame ``t`` of a video, its
    predicted masks (``pred_instances.masks``, ``labels`` = region index) are resized to the
    next frame's ``img_shape`` and become that frame's ``region_masks``, with two exceptions
    (:func:`~psalm.engine.vos_memory.next_prompts`, also the demo's rule):

    - if two predicted objects overlap with IoU > ``overlap_iou_thr`` (0.4 in the reference),
      the prediction is not used and the prompts of frame ``t`` are kept (the last good memory,
      or the first-frame masks);
    - an object whose predicted mask is empty (it left the frame or was lost) keeps its prompt
      of frame ``t``, so it can be found again (an empty prompt carries nothing to pool).

    Samples need the metainfo ``video_name``, ``frame_index``, ``num_frames`` and
    ``region_masks`` (the ``DAVISDataset`` pipeline packs them). With ``memory=False`` every
    frame keeps its dataset prompts (the first frame's masks).

    Args:
        runner: the runner.
        dataloader: test dataloader (or its config).
        evaluator: evaluator (or its config).
        fp16: autocast.
        memory: use the previous frame's prediction as the prompt.
        overlap_iou_thr: IoU above which two predicted objects make the memory update rejected.
    """

    def __init__(self, runner, dataloader: Union[DataLoader, Dict],
                 evaluator: Union[Evaluator, Dict, List], fp16: bool = False,
                 memory: bool = True, overlap_iou_thr: float = 0.4) -> None:
        super().__init__(runner, dataloader, evaluator, fp16)
        self.memory = memory
        self.overlap_iou_thr = overlap_iou_thr
        base = self.dataloader
        rank, world_size = get_dist_info()
        self.batches = video_batches(_frames_by_video(base.dataset), base.batch_size or 1, rank,
                                     world_size)
        # Same dataset, workers and collate function; only the order and grouping change.
        self.dataloader = DataLoader(
            base.dataset, batch_sampler=self.batches, num_workers=base.num_workers,
            collate_fn=base.collate_fn, pin_memory=base.pin_memory,
            worker_init_fn=base.worker_init_fn,
            persistent_workers=base.num_workers > 0 and base.persistent_workers)
        self._prompts: Dict[str, np.ndarray] = {}

    def run(self) -> dict:
        self._prompts.clear()
        return super().run()

    @torch.no_grad()
    def run_iter(self, idx: int, data_batch: dict) -> None:
        """One batch: set the prompts from memory, predict, update the memory, evaluate."""
        if self.memory:
            self._apply_memory(data_batch['data_samples'])
        self.runner.call_hook('before_test_iter', batch_idx=idx, data_batch=data_batch)
        with autocast(enabled=self.fp16):
            outputs = self.runner.model.test_step(data_batch)
        outputs, self.test_loss = _update_losses(outputs, self.test_loss)
        if self.memory:
            self._update_memory(outputs)
        self.evaluator.process(data_samples=outputs, data_batch=data_batch)
        self.runner.call_hook('after_test_iter', batch_idx=idx, data_batch=data_batch,
                              outputs=outputs)

    def _apply_memory(self, data_samples) -> None:
        for sample in data_samples:
            prompts = self._prompts.get(str(sample.metainfo['video_name']))
            if prompts is None:  # the video's first predicted frame: first-frame masks
                continue
            num_regions = len(sample.metainfo['region_masks'])
            if len(prompts) != num_regions:
                raise ValueError(f'video {sample.metainfo["video_name"]!r}: {len(prompts)} '
                                 f'objects in memory, {num_regions} regions in frame '
                                 f'{sample.metainfo["frame_index"]}')
            sample.set_metainfo(dict(region_masks=_resize_masks(
                prompts, sample.metainfo['img_shape'][:2])))

    def _update_memory(self, outputs) -> None:
        for sample in outputs:
            meta = sample.metainfo
            video = str(meta['video_name'])
            if int(meta['frame_index']) >= int(meta['num_frames']) - 1:
                self._prompts.pop(video, None)  # last frame: the video is done
                continue
            used = np.asarray(meta['region_masks']).astype(bool)  # (K, h, w) this frame's
            preds = sample.pred_instances
            masks = preds.masks
            masks = masks.detach().cpu().numpy() if isinstance(masks, torch.Tensor) else \
                np.asarray(masks)
            labels = preds.labels.detach().cpu().numpy() if 'labels' in preds else \
                np.arange(len(masks))
            if len(masks) != len(used) or sorted(labels.tolist()) != list(range(len(used))):
                raise ValueError(f'video {video!r}, frame {meta["frame_index"]}: expected one '
                                 f'predicted mask per region 0..{len(used) - 1}, got labels '
                                 f'{labels.tolist()} (use the InteractivePostProcessor)')
            ordered = np.zeros((len(used), *masks.shape[1:]), bool)
            ordered[labels] = masks.astype(bool)
            self._prompts[video], _ = next_prompts(
                used, _resize_masks(ordered, used.shape[1:]), self.overlap_iou_thr)
