"""Pictures of test sets with several samples per image: none overwritten, and an optional cap."""
import os.path as osp
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from mmdet.structures import DetDataSample
from mmdet.visualization import DetLocalVisualizer

from psalm.engine.hooks import PSALMVisualizationHook


class _Recorder:
    def __init__(self):
        self.out_files = []

    def add_datasample(self, name, image, data_sample, out_file=None, **kwargs):
        assert image.shape == (8, 8, 3)
        self.out_files.append(out_file)


def _hook(**kwargs):
    DetLocalVisualizer.get_instance('test_visualization_hook')
    hook = PSALMVisualizationHook(draw=True, test_out_dir='vis', **kwargs)
    hook._visualizer = _Recorder()
    return hook


def _samples(tmp_path, names):
    out = []
    for name in names:
        path = tmp_path / name
        if not path.exists():
            cv2.imwrite(str(path), np.zeros((8, 8, 3), np.uint8))
        out.append(DetDataSample(metainfo=dict(img_path=str(path))))
    return out


def test_samples_of_one_image_get_their_own_pictures(tmp_path):
    hook = _hook()
    runner = SimpleNamespace(work_dir=str(tmp_path), timestamp='20261207_000000')
    samples = _samples(tmp_path, ['a.jpg', 'a.jpg', 'b.jpg', 'a.jpg'])
    hook.after_test_iter(runner, 0, {}, samples[:2])
    hook.after_test_iter(runner, 1, {}, samples[2:])
    out_dir = osp.join(str(tmp_path), '20261207_000000', 'vis')
    assert hook._visualizer.out_files == [
        osp.join(out_dir, n) for n in ('a.jpg', 'a_1.jpg', 'b.jpg', 'a_2.jpg')]
    assert osp.isdir(out_dir)


def test_max_test_images_stops_painting(tmp_path):
    hook = _hook(max_test_images=3)
    runner = SimpleNamespace(work_dir=str(tmp_path), timestamp='t')
    for i in range(3):  # batches of two
        hook.after_test_iter(runner, i, {}, _samples(tmp_path, [f'{i}a.jpg', f'{i}b.jpg']))
    assert [osp.basename(f) for f in hook._visualizer.out_files] == ['0a.jpg', '0b.jpg', '1a.jpg']

    hook = _hook(max_test_images=0)
    hook.after_test_iter(runner, 0, {}, _samples(tmp_path, ['0a.jpg']))
    assert hook._visualizer.out_files == []


def test_without_draw_nothing_is_painted(tmp_path):
    hook = _hook()
    hook.draw = False
    hook.after_test_iter(SimpleNamespace(work_dir=str(tmp_path), timestamp='t'), 0, {},
                         _samples(tmp_path, ['a.jpg']))
    assert hook._visualizer.out_files == []


def test_negative_cap_is_refused():
    with pytest.raises(ValueError, match='max_test_images'):
        _hook(max_test_images=-1)
