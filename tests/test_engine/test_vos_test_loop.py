"""VOSTestLoop: the previous frame's prediction becomes the next frame's prompt (the reference's
DAVIS memory), frames of a video in time order whatever the batch size, whole videos per rank.

A stand-in model predicts every region's prompt, brought back to the original size and shifted
2 px right, so the prompt each frame received can be checked pixel by pixel; the tiny PSALM
checks the same numbers for batch sizes 1 and 2.
"""
import copy
import os.path as osp
from collections import OrderedDict

import cv2
import numpy as np
import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.structures import InstanceData

from psalm.engine import VOSTestLoop, video_batches
from psalm.testing.tiny_eval import (make_toy_davis, save_random_checkpoint, tiny_eval_config,
                                     toy_davis_objects)

CONFIG = 'configs/psalm/psalm_swinb_phi15_test_davis-2017.py'
TINY = 'configs/psalm/psalm_tiny_phi_joint.py'
HW = (48, 80)  # toy frames; Resize to the 128 canvas gives img_shape (77, 128)
SHIFT = 2


def _resize(mask, hw):
    return cv2.resize(mask.astype(np.uint8), (hw[1], hw[0]),
                      interpolation=cv2.INTER_NEAREST).astype(bool)


def _shift(mask, dx=SHIFT):
    out = np.zeros_like(mask)
    out[:, dx:] = mask[:, :-dx]
    return out


class _ShiftedPrompts(BaseModel):
    """Predicts region k = its prompt at ori_shape shifted SHIFT px right; ``empty`` and
    ``copy`` alter chosen (video, frame) predictions. Records the prompts it was given."""

    def __init__(self, empty=None, copy_from=None):
        super().__init__()
        self.empty = empty or {}  # (video, frame) -> region predicted empty
        self.copy_from = copy_from or {}  # (video, frame) -> (dst, src): dst predicted as src
        self.seen = {}
        self.batches = []

    def forward(self, inputs, data_samples=None, mode='tensor'):
        self.batches.append([(s.video_name, s.frame_index) for s in data_samples])
        for sample in data_samples:
            key = (sample.video_name, sample.frame_index)
            prompts = np.asarray(sample.region_masks).astype(bool)
            assert key not in self.seen, 'a frame was run twice'
            self.seen[key] = prompts.copy()
            masks = np.stack([_shift(_resize(p, sample.ori_shape[:2])) for p in prompts])
            if key in self.empty:
                masks[self.empty[key]] = False
            if key in self.copy_from:
                dst, src = self.copy_from[key]
                masks[dst] = masks[src]
            k = len(masks)
            sample.pred_instances = InstanceData(masks=torch.from_numpy(masks),
                                                 labels=torch.arange(k), scores=torch.ones(k))
        return data_samples


@pytest.fixture(scope='module')
def davis(tmp_path_factory):
    root = tmp_path_factory.mktemp('davis') / 'DAVIS'
    return make_toy_davis(str(root), OrderedDict(a=5, b=3, c=4))


def _runner(repo_root, work_dir, data_root, model, batch_size=1, **loop):
    cfg = tiny_eval_config(osp.join(repo_root, CONFIG), osp.join(repo_root, TINY))
    dataset = copy.deepcopy(cfg.test_dataloader.dataset)
    dataset.data_root = data_root
    return Runner(
        model=model, work_dir=str(work_dir), default_scope='mmdet',
        test_dataloader=dict(cfg.test_dataloader, batch_size=batch_size, dataset=dataset),
        test_evaluator=dict(type='DAVISMetric'),
        test_cfg=dict(type='VOSTestLoop', **loop), log_level='WARNING')


def _first_prompts(video, img_hw):
    first = toy_davis_objects(0, HW)
    return np.stack([_resize(first == obj, img_hw) for obj in (1, 2)])  # tracked: 1 and 2


def _check_memory(seen, video, num_frames, empty=(), copied=()):
    """seen[(video, t + 1)] is the prediction on frame t resized to img_shape, except an object
    predicted empty (keeps its prompt) and frames where two objects overlapped (all kept)."""
    img_hw = seen[(video, 1)].shape[1:]
    assert np.array_equal(seen[(video, 1)], _first_prompts(video, img_hw))
    for t in range(1, num_frames - 1):
        used = seen[(video, t)]
        expected = np.stack([_resize(_shift(_resize(m, HW)), img_hw) for m in used])
        if t in copied:  # object 2 predicted as object 1: IoU 1 > 0.4, memory not updated
            expected = used
        for k in range(len(used)):
            if (t, k) in empty:
                expected[k] = used[k]
        assert np.array_equal(seen[(video, t + 1)], expected), (video, t + 1)


def test_video_batches_shards_whole_videos_in_time_order():
    videos = OrderedDict(a=[0, 1, 2], b=[3, 4], c=[5, 6, 7, 8], d=[9])
    assert video_batches(videos, 1) == [[i] for i in range(10)]
    # two lanes: a lane takes the next video when its own ends
    assert video_batches(videos, 2) == [[0, 3], [1, 4], [2, 5], [9, 6], [7], [8]]
    # longest video first to the least loaded rank: c (4) -> 0, a (3) -> 1, b (2) -> 1, d -> 0
    assert video_batches(videos, 2, 0, 2) == [[5, 9], [6], [7], [8]]
    assert video_batches(videos, 2, 1, 2) == [[0, 3], [1, 4], [2]]
    assert video_batches(videos, 3, 2, 5) == [[3], [4]]  # b
    assert video_batches(videos, 3, 4, 5) == []  # more ranks than videos
    for batch_size in (1, 2, 3):
        for world in (1, 2, 3):
            parts = [video_batches(videos, batch_size, r, world) for r in range(world)]
            flat = [i for part in parts for batch in part for i in batch]
            assert sorted(flat) == list(range(10))
            for part in parts:
                for batch in part:
                    owners = [v for i in batch for v, idx in videos.items() if i in idx]
                    assert len(set(owners)) == len(owners)  # one frame per video and batch
            for frames in videos.values():
                ranks = {r for r, part in enumerate(parts)
                         for batch in part for i in batch if i in frames}
                assert len(ranks) == 1  # a video never spans two ranks
    with pytest.raises(ValueError):
        video_batches(videos, 0)


def test_memory_prompts_absent_object_and_overlap(repo_root, tmp_path, davis):
    # Frame 2 of 'a': object 2 is predicted empty; frame 2 of 'c': object 2 predicted as
    # object 1 (IoU 1 > 0.4).
    model = _ShiftedPrompts(empty={('a', 2): 1}, copy_from={('c', 2): (1, 0)})
    metrics = _runner(repo_root, tmp_path / 'w', davis, model).test()
    assert set(metrics) >= {'davis/J&F-Mean', 'davis/J-Mean', 'davis/F-Mean'}
    assert len(model.seen) == 4 + 2 + 3  # every frame but frame 0, once
    _check_memory(model.seen, 'a', 5, empty={(2, 1)})
    _check_memory(model.seen, 'b', 3)
    _check_memory(model.seen, 'c', 4, copied={2})
    # frames in time order, one per video and batch (batch size 1 here: dataset order)
    assert [b[0] for b in model.batches] == [(v, t) for v, n in (('a', 5), ('b', 3), ('c', 4))
                                             for t in range(1, n)]


def test_batch_of_videos_gives_the_same_prompts_and_numbers(repo_root, tmp_path, davis):
    single = _ShiftedPrompts(empty={('a', 2): 1})
    m1 = _runner(repo_root, tmp_path / 'w1', davis, single).test()
    parallel = _ShiftedPrompts(empty={('a', 2): 1})
    m3 = _runner(repo_root, tmp_path / 'w3', davis, parallel, batch_size=3).test()
    assert m1 == m3
    assert parallel.batches[0] == [('a', 1), ('b', 1), ('c', 1)]
    assert len(parallel.batches) == 4  # the longest video has 4 predicted frames
    assert single.seen.keys() == parallel.seen.keys()
    for key in single.seen:
        assert np.array_equal(single.seen[key], parallel.seen[key]), key


def test_without_memory_every_frame_gets_the_first_frame_masks(repo_root, tmp_path, davis):
    model = _ShiftedPrompts()
    _runner(repo_root, tmp_path / 'w', davis, model, memory=False).test()
    img_hw = model.seen[('a', 1)].shape[1:]
    for (video, _), prompts in model.seen.items():
        assert np.array_equal(prompts, _first_prompts(video, img_hw))


def test_loop_needs_video_samples(repo_root, tmp_path, davis):
    runner = _runner(repo_root, tmp_path / 'w', davis, _ShiftedPrompts())
    loop = runner.build_test_loop(runner._test_loop)
    assert isinstance(loop, VOSTestLoop)
    assert loop.batches == [[i] for i in range(9)]

    class _NoVideo:
        def __len__(self):
            return 1

        def get_data_info(self, idx):
            return dict(img_path='x.jpg')

    from psalm.engine.vos_test_loop import _frames_by_video
    with pytest.raises(KeyError, match='video_name'):
        _frames_by_video(_NoVideo())


def test_tiny_psalm_batch_sizes_agree(repo_root, tmp_path, davis):
    """The real model: batch size 1 and 3 (three videos at once) give identical J&F, and the
    frames' prompts come from the previous predictions."""
    results = []
    for batch_size in (1, 3):
        cfg = tiny_eval_config(osp.join(repo_root, CONFIG), osp.join(repo_root, TINY), {
            'test_dataloader.dataset.data_root': davis,
            'test_dataloader.batch_size': batch_size,
            'test_evaluator.outfile_prefix': str(tmp_path / f'png{batch_size}'),
            'work_dir': str(tmp_path / f'w{batch_size}'), 'log_level': 'WARNING'})
        if batch_size == 1:
            cfg.load_from = save_random_checkpoint(cfg.model, str(tmp_path / 'tiny.pth'))
        else:
            cfg.load_from = str(tmp_path / 'tiny.pth')
        runner = Runner.from_cfg(cfg)
        results.append(runner.test())
        assert not runner.test_loop._prompts  # every video finished
    assert results[0] == results[1]
    assert 0.0 <= results[0]['davis/J&F-Mean'] <= 100.0
    for video in ('a', 'b', 'c'):
        a = sorted((tmp_path / 'png1' / video).iterdir())
        b = sorted((tmp_path / 'png3' / video).iterdir())
        assert [p.name for p in a] == [p.name for p in b] and len(a) == dict(a=5, b=3, c=4)[video]
        for p, q in zip(a, b):
            assert p.read_bytes() == q.read_bytes()
