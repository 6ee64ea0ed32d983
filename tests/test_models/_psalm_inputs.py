"""Builds tiny PSALM models and batches of DetDataSamples for the model tests."""
import os.path as osp
from typing import List, Sequence

import numpy as np
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmdet.utils import register_all_modules

from psalm.structures import box_to_mask, point_to_mask, scribble_to_mask
from psalm.testing.tiny_eval import build_random_model

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_CONFIG = osp.join(REPO, 'configs', 'psalm', 'psalm_tiny_phi_joint.py')
FULL_CONFIG = osp.join(REPO, 'configs', 'psalm', 'psalm_swinb_phi15_joint.py')


def tiny_model_cfg(**overrides) -> Config:
    register_all_modules()
    cfg = Config.fromfile(TINY_CONFIG)
    if overrides:
        cfg.merge_from_dict(overrides)
    return cfg.model


def build_tiny(**overrides):
    return build_random_model(tiny_model_cfg(**overrides))


def _rect(h: int, w: int, y0: int, x0: int, y1: int, x1: int) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[y0:y1, x0:x1] = 1
    return m


def make_sample(task: str, hw: Sequence[int], seed: int, **meta) -> DetDataSample:
    """A sample with two rectangles as ground truth and the prompts its task needs."""
    h, w = hw
    rng = np.random.default_rng(seed)
    masks = np.stack([_rect(h, w, 5, 5, h // 2, w // 2), _rect(h, w, h // 2, w // 3, h - 3, w - 4)])
    sample = DetDataSample()
    info = dict(img_shape=(h, w), ori_shape=(h, w), task=task, scale_factor=(1.0, 1.0))
    gt = InstanceData()
    if task in ('panoptic', 'instance', 'semantic'):
        categories = meta.pop('categories', ['red circle', 'blue square', 'sky'])
        info['categories'] = categories
        info['is_thing'] = [True] * (len(categories) - 1) + [False]
        gt.labels = torch.tensor([0, len(categories) - 1])
        gt.masks = BitmapMasks(masks, h, w)
    elif task in ('referring', 'gres'):
        info['text'] = meta.pop('text', 'the small red square on the left')
        keep = meta.pop('num_targets', 1)
        gt.masks = BitmapMasks(masks[:keep], h, w)
    elif task == 'interactive':
        kinds = meta.pop('prompt_kinds', ['point', 'box'])
        regions = []
        for k, kind in enumerate(kinds):
            m = masks[k % 2]
            ys, xs = np.nonzero(m)
            if kind == 'point':
                regions.append(point_to_mask([[xs.mean(), ys.mean()]], (h, w)))
            elif kind == 'scribble':
                regions.append(scribble_to_mask([[[xs.min(), ys.min()], [xs.max(), ys.max()]]], (h, w)))
            elif kind == 'box':
                regions.append(box_to_mask([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], (h, w)))
            else:
                regions.append(m.astype(bool))
        info['region_masks'] = np.stack(regions)
        gt.masks = BitmapMasks(np.stack([masks[k % 2] for k in range(len(kinds))]), h, w)
    elif task == 'conversation':
        info['conversation'] = meta.pop('conversation', [
            dict(**{'from': 'human', 'value': '<image>\nHow many squares are there?'}),
            dict(**{'from': 'gpt', 'value': 'There are two squares.'})])
    info.update(meta)
    sample.set_metainfo(info)
    if task != 'conversation':
        sample.gt_instances = gt
    return sample


def make_batch(model, samples: List[DetDataSample], training: bool, seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    inputs = [torch.randint(0, 256, (3, *s.metainfo['img_shape']), generator=gen, dtype=torch.uint8)
              for s in samples]
    return model.data_preprocessor(dict(inputs=inputs, data_samples=samples), training)
