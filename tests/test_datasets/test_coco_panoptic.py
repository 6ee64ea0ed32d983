"""PSALM's COCO panoptic dataset: every non-crowd segment is a target, with its category list."""
import numpy as np
from mmengine.dataset import Compose

from mmdet.utils import register_all_modules

from psalm.datasets import PSALMCocoPanopticDataset
from psalm.testing import make_toy_coco_panoptic


def _pipeline(scale=(128, 128)):
    return [
        dict(type='LoadImageFromFile'),
        dict(type='LoadPanopticSegments', with_bbox=True, with_mask=True, with_seg=True),
        dict(type='Resize', scale=scale, keep_ratio=True),
        dict(type='PackPSALMInputs'),
    ]


def test_panoptic_samples(tmp_path):
    register_all_modules()
    info = make_toy_coco_panoptic(str(tmp_path), 'train', num_images=2, image_size=(64, 80))
    ds = PSALMCocoPanopticDataset(
        data_root=str(tmp_path), ann_file=info['ann_file'], metainfo=info['metainfo'],
        data_prefix=dict(img=info['img_dir'], seg=info['seg_dir']), pipeline=_pipeline())
    assert len(ds) == 2

    raw = ds.get_data_info(0)  # image 1: sky, grass, a thing and a crowd thing
    assert raw['task'] == 'panoptic'
    assert raw['categories'] == ['square', 'triangle', 'sky', 'grass']
    assert raw['is_thing'] == [True, True, False, False]
    labels = [inst['bbox_label'] for inst in raw['instances']]
    assert sorted(labels[:2]) == [2, 3] and labels[2] in (0, 1)

    out = ds[0]
    sample = out['data_samples']
    assert sample.metainfo['img_shape'] == (102, 128)  # long side 80 -> 128
    assert sample.metainfo['ori_shape'] == (64, 80)
    assert sample.metainfo['categories'] == raw['categories']
    masks = sample.gt_instances.masks
    assert len(masks) == 3 and masks.height == 102 and masks.width == 128
    assert sample.gt_instances.labels.tolist() == labels
    # Stuff masks cover their half of the image except where things are drawn on top.
    sky = masks.masks[labels.index(2)]
    assert sky[:50].mean() > 0.5 and sky[60:].sum() == 0
    # Segments partition the image: no pixel belongs to two targets.
    assert masks.masks.sum(0).max() == 1

    assert len(raw['segments_info']) == 4  # the crowd segment is in the panoptic GT only
    assert len(ds.get_data_info(1)['instances']) == 3  # image 2: no crowd
    sem = ds[1]['data_samples'].gt_sem_seg.sem_seg
    assert set(np.unique(sem.numpy()).tolist()) <= {0, 1, 2, 3, 255}
