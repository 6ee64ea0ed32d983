"""Evaluation configs on the tiny model and toy data, for tests and smoke runs (no downloads).

- :func:`tiny_eval_config`: a benchmark config (``configs/psalm/psalm_swinb_phi15_test_*.py``)
  with the tiny model of ``psalm_tiny_phi_joint.py`` and its small canvas, no dataloader workers;
- :func:`build_random_model`, :func:`save_random_checkpoint`: a config's model with seeded initial
  weights, and its checkpoint;
- toy data in the layouts the benchmark configs read: :func:`make_toy_davis`,
  :func:`make_toy_interactive`, :func:`make_toy_grefcoco`, :func:`make_toy_panoptic_instances`.
"""
import json
import os
import os.path as osp
import shutil
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np
import torch
from mmengine.config import Config
from PIL import Image

from .toy_coco import make_toy_coco


def _resize_scales(pipeline: list, scale: Tuple[int, int]) -> None:
    for transform in pipeline:
        if transform.get('type') == 'Resize':
            transform['scale'] = tuple(scale)


def _datasets(dataset_cfg: dict) -> List[dict]:
    """The dataset configs inside a (possibly wrapped) dataset config."""
    if 'datasets' in dataset_cfg:
        return [d for sub in dataset_cfg['datasets'] for d in _datasets(sub)]
    if 'dataset' in dataset_cfg:
        return _datasets(dataset_cfg['dataset'])
    return [dataset_cfg]


def tiny_eval_config(eval_config: str, tiny_config: str,
                     cfg_options: Optional[dict] = None) -> Config:
    """``eval_config`` with the model of ``tiny_config`` (keeping the benchmark's
    ``model.test_cfg``) and test images resized to its canvas.

    Args:
        eval_config: path of a benchmark config.
        tiny_config: path of ``configs/psalm/psalm_tiny_phi_joint.py`` (or another config whose
            ``model`` to use).
        cfg_options: merged last (``--cfg-options`` style keys).
    """
    cfg = Config.fromfile(eval_config)
    tiny = Config.fromfile(tiny_config)
    test_cfg = cfg.model.get('test_cfg')  # the benchmark's post-processing is kept
    cfg.model = tiny.model
    if test_cfg is not None:
        cfg.model.test_cfg = test_cfg
    canvas = tuple(tiny.model.data_preprocessor.canvas_size)
    for ds in _datasets(cfg.test_dataloader.dataset):
        _resize_scales(ds.get('pipeline', []), canvas)
    cfg.test_dataloader.num_workers = 0
    cfg.test_dataloader.persistent_workers = False
    cfg.default_hooks.logger.interval = 1
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def build_random_model(model_cfg: dict, seed: int = 0) -> torch.nn.Module:
    """Build ``model_cfg`` with its initial weights, seeded (the same weights on every call)."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model


def save_random_checkpoint(model_cfg: dict, path: str, seed: int = 0) -> str:
    """Build ``model_cfg`` with random weights (seeded) and save it as an mmengine checkpoint."""
    model = build_random_model(model_cfg, seed)
    tmp = f'{path}.tmp'
    torch.save(dict(meta=dict(seed=seed), state_dict=model.state_dict()), tmp)
    os.replace(tmp, path)
    return path


# ----------------------------------------------------------------------------------- DAVIS
def toy_davis_objects(frame: int, hw: Tuple[int, int] = (48, 80)) -> np.ndarray:
    """(H, W) object-id map of a toy DAVIS frame: object 1 moves right; object 2 is absent from
    frame 2 and back at frame 3; object 3 appears at frame 1 (not tracked: not in frame 0); a
    void (255) top row."""
    h, w = hw
    seg = np.zeros((h, w), np.uint8)
    x = 4 + 6 * frame
    seg[8:22, x:x + 18] = 1
    if frame != 2:
        seg[28:44, w - 30:w - 8] = 2
    if frame >= 1:
        seg[30:40, 2:10] = 3
    seg[0, :] = 255
    return seg


def make_toy_davis(root: str, videos: Dict[str, int], hw: Tuple[int, int] = (48, 80),
                   seed: int = 0) -> str:
    """Write a DAVIS-2017 layout: ``ImageSets/2017/val.txt``, ``JPEGImages/480p/<v>/*.jpg``,
    ``Annotations/480p/<v>/*.png`` (indexed PNGs of :func:`toy_davis_objects`).

    Args:
        root: the DAVIS folder.
        videos: video name -> number of frames.
        hw: frame size.
        seed: image noise seed.

    Returns:
        ``root`` with a trailing separator (a ``data_root``).
    """
    from psalm.visualization.palette import davis_palette
    rng = np.random.default_rng(seed)
    palette = davis_palette().ravel().tolist()  # a full palette: PNG keeps the indices
    colours = {1: (40, 200, 220), 2: (220, 60, 40), 3: (60, 220, 60)}
    for video, num_frames in videos.items():
        img_dir = Path(root, 'JPEGImages/480p', video)
        ann_dir = Path(root, 'Annotations/480p', video)
        img_dir.mkdir(parents=True, exist_ok=True)
        ann_dir.mkdir(parents=True, exist_ok=True)
        for frame in range(num_frames):
            seg = toy_davis_objects(frame, hw)
            img = rng.integers(0, 50, size=(*hw, 3), dtype=np.uint8)
            for obj, colour in colours.items():
                img[seg == obj] = colour
            cv2.imwrite(str(img_dir / f'{frame:05d}.jpg'), img)
            png = Image.fromarray(seg)
            png.putpalette(palette)
            png.save(ann_dir / f'{frame:05d}.png')
    Path(root, 'ImageSets/2017').mkdir(parents=True, exist_ok=True)
    Path(root, 'ImageSets/2017/val.txt').write_text(''.join(f'{v}\n' for v in videos))
    return osp.join(str(root), '')


# ------------------------------------------------------------------------ COCO-Interactive
def make_toy_interactive(root: str, split: str = 'val', num_images: int = 3,
                         seed: int = 0) -> Dict[str, str]:
    """Toy COCO images (:func:`make_toy_coco`) and their COCO-Interactive json
    (``<root>/coco_interactive_<split>_psalm.json``, the builder's format and rules).

    Returns:
        ``ann_file`` and ``img_dir`` relative to ``root``.
    """
    from psalm.datasets.interactive_prompts import annotate_image, image_rng
    toy = make_toy_coco(root, split, num_images=num_images, seed=seed)
    with open(osp.join(root, toy['ann_file'])) as f:
        coco = json.load(f)
    entries = []
    for k, image in enumerate(coco['images']):
        anns = [a for a in coco['annotations'] if a['image_id'] == image['id']]
        anns, _ = annotate_image(image, anns, image_rng(seed, image['id']))
        entries.append(dict(image=image['file_name'], image_info=image, new_img_id=k, anns=anns))
    ann_file = f'coco_interactive_{split}_psalm.json'
    with open(osp.join(root, ann_file), 'w') as f:
        json.dump(entries, f)
    return dict(ann_file=ann_file, img_dir=toy['img_dir'])


# -------------------------------------------------------------------------------- gRefCOCO
def make_toy_grefcoco(root: str, num_images: int = 3, seed: int = 0) -> List[dict]:
    """Toy images (``<root>/train2014/``), ``<root>/grefcoco/instances.json`` and
    ``grefs(unc).json``: per image a single-target ref, a ref to all its objects and a
    no-target ref (``ann_id [-1]``), two sentences each; the last image is 'val', the others
    'train'."""
    make_toy_coco(root, 'train2014', num_images=num_images, seed=seed)
    Path(root, 'grefcoco').mkdir(parents=True, exist_ok=True)
    src = osp.join(root, 'annotations', 'instances_train2014.json')
    shutil.copy(src, osp.join(root, 'grefcoco', 'instances.json'))
    with open(src) as f:
        coco = json.load(f)
    refs, sent_id = [], 0
    for image in coco['images']:
        anns = [a for a in coco['annotations'] if a['image_id'] == image['id']]
        split = 'val' if image['id'] == num_images else 'train'
        for ann_ids, words in (([anns[0]['id']], 'the first shape'),
                               ([a['id'] for a in anns], 'all the shapes'),
                               ([-1], 'the purple elephant')):
            sentences = []
            for text in (words, f'{words} please'):
                sentences.append(dict(sent=text, raw=text, tokens=text.split(), sent_id=sent_id))
                sent_id += 1
            refs.append(dict(ref_id=len(refs), image_id=image['id'], ann_id=ann_ids,
                             split=split, sentences=sentences,
                             sent_ids=[s['sent_id'] for s in sentences]))
    with open(osp.join(root, 'grefcoco', 'grefs(unc).json'), 'w') as f:
        json.dump(refs, f)
    return refs


# ------------------------------------------------------------------------ COCO panoptic
def make_toy_panoptic_instances(root: str, toy: dict, split: str = 'val') -> str:
    """``<root>/annotations/instances_<split>.json``: the thing segments of a toy panoptic set
    (:func:`~psalm.testing.make_toy_coco_panoptic` output ``toy``) as COCO instances (RLE masks,
    crowd flags kept), what ``instances_val2017.json`` is to ``panoptic_val2017.json``."""
    import pycocotools.mask as mask_util
    from panopticapi.utils import rgb2id
    with open(osp.join(root, toy['ann_file'])) as f:
        pan = json.load(f)
    things = {c['id'] for c in pan['categories'] if c['isthing']}
    annotations = []
    for ann in pan['annotations']:
        png = cv2.imread(osp.join(root, toy['seg_dir'], ann['file_name']))[:, :, ::-1]
        ids = rgb2id(png)
        for seg in ann['segments_info']:
            if seg['category_id'] not in things:
                continue
            rle = mask_util.encode(np.asfortranarray((ids == seg['id']).astype(np.uint8)))
            rle['counts'] = rle['counts'].decode('ascii')
            annotations.append(dict(id=len(annotations) + 1, image_id=ann['image_id'],
                                    category_id=seg['category_id'], segmentation=rle,
                                    area=seg['area'], bbox=seg['bbox'], iscrowd=seg['iscrowd']))
    out = osp.join('annotations', f'instances_{split}.json')
    with open(osp.join(root, out), 'w') as f:
        json.dump(dict(images=pan['images'], annotations=annotations,
                       categories=[c for c in pan['categories'] if c['isthing']]), f)
    return out
