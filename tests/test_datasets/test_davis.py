"""DAVIS-2017 semi-supervised VOS: per-frame samples in time order, first-frame mask prompts,
per-object ground truth with absent objects, clear errors, the layout checker."""
import copy
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from mmdet.registry import DATASETS
from mmdet.utils import register_all_modules

from psalm.datasets.davis import DAVISDataset, LoadDAVISAnnotations  # noqa: F401  (registers)
from psalm.datasets.transforms import decode_mask

CONFIG = 'configs/psalm/_base_/datasets/davis.py'
H, W = 48, 80  # long side 80 -> 1024
RESIZED = (614, 1024)
# DAVIS's palette starts black, red, green, ...; any palette works, the indices are the ids.
PALETTE = [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0] + [v for i in range(4, 256)
                                                        for v in (i, i, 255 - i)]


def _objects(frame: int) -> np.ndarray:
    """Object 1 moves right; object 2 leaves after frame 1; object 3 appears at frame 2;
    a void (255) border everywhere."""
    seg = np.zeros((H, W), np.uint8)
    seg[10:20, 5 + 4 * frame:25 + 4 * frame] = 1
    if frame < 2:
        seg[30:44, 50:70] = 2
    if frame >= 2:
        seg[30:40, 10:20] = 3
    seg[0, :] = 255
    return seg


def _write_video(root, video, num_frames, shuffled=True):
    img_dir = root / 'JPEGImages/480p' / video
    ann_dir = root / 'Annotations/480p' / video
    img_dir.mkdir(parents=True)
    ann_dir.mkdir(parents=True)
    order = list(range(num_frames))
    if shuffled:  # file creation order must not matter
        order = order[::-1]
    for frame in order:
        img = np.full((H, W, 3), 10 * frame, np.uint8)
        cv2.imwrite(str(img_dir / f'{frame:05d}.jpg'), img)
        png = Image.fromarray(_objects(frame), mode='P')
        png.putpalette(PALETTE)
        png.save(ann_dir / f'{frame:05d}.png')


@pytest.fixture
def davis(tmp_path):
    root = tmp_path / 'DAVIS'
    _write_video(root, 'dogs-jump', 3)
    _write_video(root, 'bear', 4)
    (root / 'ImageSets/2017').mkdir(parents=True)
    # Not alphabetical: the list's order is kept.
    (root / 'ImageSets/2017/val.txt').write_text('dogs-jump\nbear\n')
    return root


@pytest.fixture(scope='module')
def cfg(repo_root):
    register_all_modules()
    return Config.fromfile(osp.join(repo_root, CONFIG))


def _build(cfg, root, **overrides):
    ds_cfg = copy.deepcopy(cfg.davis_val)
    ds_cfg.update(data_root=str(root) + '/', **overrides)
    return DATASETS.build(ds_cfg)


def test_samples_per_frame_in_video_order(cfg, davis):
    ds = _build(cfg, davis)
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert [(i['video_name'], i['frame_index']) for i in infos] == [
        ('dogs-jump', 1), ('dogs-jump', 2), ('bear', 1), ('bear', 2), ('bear', 3)]
    info = infos[3]
    assert info['task'] == 'vos' and info['frame_name'] == '00002' and info['num_frames'] == 4
    assert info['img_id'] == 'bear/00002'
    assert info['img_path'].endswith('JPEGImages/480p/bear/00002.jpg')
    assert info['seg_map_path'].endswith('Annotations/480p/bear/00002.png')
    assert info['first_frame'].endswith('JPEGImages/480p/bear/00000.jpg')
    assert info['first_frame_seg_map_path'].endswith('Annotations/480p/bear/00000.png')
    assert info['prev_frame_path'].endswith('JPEGImages/480p/bear/00001.jpg')
    assert (info['height'], info['width']) == (H, W)
    # Objects of the first frame only (3 appears later), void excluded; prompts = frame 0 masks.
    assert info['object_ids'] == [1, 2]
    first = _objects(0)
    for prompt, object_id in zip(info['visual_prompts'], info['object_ids']):
        assert prompt['type'] == 'mask'
        np.testing.assert_array_equal(decode_mask(prompt['data'], H, W), first == object_id)


def test_pipeline_masks_prompts_and_absent_objects(cfg, davis):
    ds = _build(cfg, davis)
    present = ds[0]['data_samples']  # dogs-jump frame 1: both objects
    absent = ds[1]['data_samples']  # dogs-jump frame 2: object 2 gone, object 3 not tracked
    for sample, frame in ((present, 1), (absent, 2)):
        meta = sample.metainfo
        assert meta['img_shape'] == RESIZED and meta['ori_shape'] == (H, W)
        assert meta['task'] == 'vos' and meta['video_name'] == 'dogs-jump'
        assert meta['frame_index'] == frame and meta['object_ids'] == [1, 2]
        assert meta['prev_frame_path'].endswith(f'{frame - 1:05d}.jpg')
        gt = sample.gt_instances
        assert gt.labels.tolist() == [0, 1]  # mask k <-> region k
        masks = gt.masks.masks  # ground truth at the original size
        assert masks.shape == (2, H, W)
        np.testing.assert_array_equal(meta['gt_masks'].masks, masks)  # for mask metrics
        np.testing.assert_array_equal(masks[0], _objects(frame) == 1)
        # Region prompts: the first-frame masks, resized like the image (nearest).
        region = np.asarray(meta['region_masks'])
        assert region.shape == (2, *RESIZED) and region.dtype == bool
        for k, object_id in enumerate((1, 2)):
            expected = cv2.resize((_objects(0) == object_id).astype(np.uint8), RESIZED[::-1],
                                  interpolation=cv2.INTER_NEAREST).astype(bool)
            np.testing.assert_array_equal(region[k], expected)
    assert present.metainfo['object_present'] == [True, True]
    assert present.gt_instances.masks.masks[1].sum() == 14 * 20
    assert absent.metainfo['object_present'] == [True, False]
    assert absent.gt_instances.masks.masks[1].sum() == 0  # kept, empty


def test_missing_files_are_named(cfg, davis):
    os.remove(davis / 'Annotations/480p/bear/00002.png')
    with pytest.raises(FileNotFoundError, match=r'bear/00002\.png'):
        _build(cfg, davis)
    # test-dev style: only the first frame needs an annotation; that frame gets no GT.
    ds = _build(cfg, davis, require_all_annotations=False)
    info = ds.get_data_info(3)
    assert info['frame_name'] == '00002' and info['seg_map_path'] is None
    sample = ds[3]['data_samples']
    assert 'masks' not in sample.gt_instances and len(sample.metainfo['region_masks']) == 2

    os.remove(davis / 'Annotations/480p/bear/00000.png')
    with pytest.raises(FileNotFoundError, match=r'first-frame annotation .*bear/00000\.png'):
        _build(cfg, davis, require_all_annotations=False)
    (davis / 'ImageSets/2017/val.txt').write_text('dogs-jump\nhorsejump-high\n')
    with pytest.raises(FileNotFoundError, match=r'JPEGImages/480p/horsejump-high'):
        _build(cfg, davis)
    with pytest.raises(FileNotFoundError, match=r'ImageSets/2017/test\.txt'):
        _build(cfg, davis, ann_file='ImageSets/2017/test.txt')


def test_colour_annotations_are_refused(cfg, davis):
    rgb = np.stack([_objects(0) * 100] * 3, -1).astype(np.uint8)
    Image.fromarray(rgb).save(davis / 'Annotations/480p/bear/00000.png')
    with pytest.raises(ValueError, match='indexed'):
        _build(cfg, davis)


def test_prepare_davis_checks_the_layout(davis, repo_root):
    tool = osp.join(repo_root, 'tools/dataset_converters/prepare_davis.py')
    ok = subprocess.run([sys.executable, tool, str(davis)], capture_output=True, text=True)
    assert ok.returncode == 0 and 'layout complete' in ok.stdout
    os.remove(davis / 'Annotations/480p/bear/00003.png')
    bad = subprocess.run([sys.executable, tool, str(davis)], capture_output=True, text=True)
    assert bad.returncode == 1
    assert '1 of 4 annotations missing, e.g. 00003.png' in bad.stdout
