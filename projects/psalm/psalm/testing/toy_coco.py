"""A tiny COCO-instances dataset generated on the fly, for smoke runs and tests.

Images hold a few filled squares and triangles on a noisy background; annotations are real COCO
json (polygons, boxes, areas), so mmdet's ``CocoDataset`` and ``CocoMetric`` read them unchanged.
"""
import json
import os.path as osp
from pathlib import Path
from typing import Dict, List, Tuple

import cv2
import numpy as np

TOY_CLASSES = ('square', 'triangle')


def _shape_polygon(rng: np.random.Generator, kind: str, size: int,
                   img_hw: Tuple[int, int]) -> np.ndarray:
    h, w = img_hw
    x0 = rng.integers(0, w - size)
    y0 = rng.integers(0, h - size)
    if kind == 'square':
        pts = [(x0, y0), (x0 + size, y0), (x0 + size, y0 + size), (x0, y0 + size)]
    else:
        pts = [(x0 + size // 2, y0), (x0 + size, y0 + size), (x0, y0 + size)]
    return np.asarray(pts, dtype=np.int32)


def make_toy_coco(root: str, split: str = 'train', num_images: int = 4,
                  image_size: Tuple[int, int] = (64, 80), max_objects: int = 3,
                  seed: int = 0) -> Dict[str, str]:
    """Write ``<root>/<split>/*.jpg`` and ``<root>/annotations/instances_<split>.json``.

    Args:
        root: output directory (created if missing).
        split: split name, used in the file names.
        num_images: number of images.
        image_size: (height, width) of every image.
        max_objects: at most this many objects per image (at least one).
        seed: random seed; the same arguments always give the same files.

    Returns:
        dict with ``ann_file`` and ``img_dir`` (both relative to ``root``).
    """
    rng = np.random.default_rng(seed)
    img_dir = Path(root, split)
    img_dir.mkdir(parents=True, exist_ok=True)
    Path(root, 'annotations').mkdir(parents=True, exist_ok=True)
    h, w = image_size
    images: List[dict] = []
    annotations: List[dict] = []
    for img_id in range(1, num_images + 1):
        img = rng.integers(0, 60, size=(h, w, 3), dtype=np.uint8)
        for _ in range(int(rng.integers(1, max_objects + 1))):
            label = int(rng.integers(0, len(TOY_CLASSES)))
            size = int(rng.integers(min(h, w) // 4, min(h, w) // 2))
            poly = _shape_polygon(rng, TOY_CLASSES[label], size, (h, w))
            color = [int(c) for c in rng.integers(120, 256, size=3)]
            cv2.fillPoly(img, [poly], color)
            mask = np.zeros((h, w), np.uint8)
            cv2.fillPoly(mask, [poly], 1)
            ys, xs = np.nonzero(mask)
            x1, y1 = int(xs.min()), int(ys.min())
            annotations.append(dict(
                id=len(annotations) + 1, image_id=img_id, category_id=label + 1,
                segmentation=[poly.astype(float).reshape(-1).tolist()],
                area=float(mask.sum()), iscrowd=0,
                bbox=[x1, y1, int(xs.max()) - x1 + 1, int(ys.max()) - y1 + 1]))
        file_name = f'{split}_{img_id:04d}.jpg'
        cv2.imwrite(str(img_dir / file_name), img)
        images.append(dict(id=img_id, file_name=file_name, height=h, width=w))
    ann_file = osp.join('annotations', f'instances_{split}.json')
    coco = dict(images=images, annotations=annotations,
                categories=[dict(id=i + 1, name=n, supercategory='shape')
                            for i, n in enumerate(TOY_CLASSES)])
    with open(osp.join(root, ann_file), 'w') as f:
        json.dump(coco, f)
    return dict(ann_file=ann_file, img_dir=split + '/')


def toy_coco_cfg_options(root: str) -> List[str]:
    """``--cfg-options`` that point a toy-COCO config (``configs/smoke/``) at ``root``."""
    root = osp.join(osp.abspath(root), '')
    opts = []
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts.append(f'{loader}.dataset.data_root={root}')
    for evaluator in ('val_evaluator', 'test_evaluator'):
        opts.append(f'{evaluator}.ann_file={root}annotations/instances_val.json')
    return opts


TOY_PANOPTIC_THINGS = ('square', 'triangle')
TOY_PANOPTIC_STUFF = ('sky', 'grass')


def make_toy_coco_panoptic(root: str, split: str = 'train', num_images: int = 3,
                           image_size: Tuple[int, int] = (64, 80),
                           seed: int = 0) -> Dict[str, str]:
    """Write a COCO-panoptic set: ``<root>/<split>/*.jpg``,
    ``<root>/annotations/panoptic_<split>/*.png`` (segment id = R + 256 G + 256^2 B) and
    ``<root>/annotations/panoptic_<split>.json``.

    Each image: a 'sky' top half and a 'grass' bottom half (stuff), one or two things drawn over
    them, the second thing of every other image marked ``iscrowd``.

    Returns:
        ``ann_file``, ``img_dir`` and ``seg_dir`` relative to ``root``, and ``metainfo``.
    """
    from panopticapi.utils import id2rgb
    rng = np.random.default_rng(seed)
    h, w = image_size
    img_dir, seg_dir = Path(root, split), Path(root, 'annotations', f'panoptic_{split}')
    img_dir.mkdir(parents=True, exist_ok=True)
    seg_dir.mkdir(parents=True, exist_ok=True)
    names = TOY_PANOPTIC_THINGS + TOY_PANOPTIC_STUFF
    categories = [dict(id=i + 1, name=n, isthing=int(n in TOY_PANOPTIC_THINGS),
                       supercategory='toy') for i, n in enumerate(names)]
    images, annotations = [], []
    for img_id in range(1, num_images + 1):
        img = rng.integers(0, 40, size=(h, w, 3), dtype=np.uint8)
        pan = np.zeros((h, w), np.int64)
        segments = []
        pan[:h // 2] = 10 * img_id + 1
        pan[h // 2:] = 10 * img_id + 2
        segments += [(10 * img_id + 1, names.index('sky') + 1, 0),
                     (10 * img_id + 2, names.index('grass') + 1, 0)]
        for k in range(1 + img_id % 2):
            label = int(rng.integers(0, len(TOY_PANOPTIC_THINGS)))
            size = int(rng.integers(min(h, w) // 4, min(h, w) // 2))
            poly = _shape_polygon(rng, TOY_PANOPTIC_THINGS[label], size, (h, w))
            mask = np.zeros((h, w), np.uint8)
            cv2.fillPoly(mask, [poly], 1)
            seg_id = 10 * img_id + 3 + k
            pan[mask > 0] = seg_id
            cv2.fillPoly(img, [poly], [int(c) for c in rng.integers(120, 256, size=3)])
            segments.append((seg_id, label + 1, int(k == 1)))
        segments_info = []
        for seg_id, cat_id, crowd in segments:
            ys, xs = np.nonzero(pan == seg_id)
            if len(ys) == 0:
                continue
            x1, y1 = int(xs.min()), int(ys.min())
            segments_info.append(dict(id=seg_id, category_id=cat_id, iscrowd=crowd,
                                      area=int(len(ys)),
                                      bbox=[x1, y1, int(xs.max()) - x1 + 1,
                                            int(ys.max()) - y1 + 1]))
        file_name = f'{split}_{img_id:04d}.jpg'
        cv2.imwrite(str(img_dir / file_name), img)
        cv2.imwrite(str(seg_dir / file_name.replace('.jpg', '.png')),
                    cv2.cvtColor(id2rgb(pan).astype(np.uint8), cv2.COLOR_RGB2BGR))
        images.append(dict(id=img_id, file_name=file_name, height=h, width=w))
        annotations.append(dict(image_id=img_id, file_name=file_name.replace('.jpg', '.png'),
                                segments_info=segments_info))
    ann_file = osp.join('annotations', f'panoptic_{split}.json')
    with open(osp.join(root, ann_file), 'w') as f:
        json.dump(dict(images=images, annotations=annotations, categories=categories), f)
    metainfo = dict(classes=names, thing_classes=TOY_PANOPTIC_THINGS,
                    stuff_classes=TOY_PANOPTIC_STUFF)
    return dict(ann_file=ann_file, img_dir=split + '/',
                seg_dir=f'annotations/panoptic_{split}/', metainfo=metainfo)


def make_toy_refer(root: str, name: str = 'refcoco', refs_file: str = 'refs(unc).p',
                   num_images: int = 3, seed: int = 0) -> List[dict]:
    """Write a refer-toolkit set on toy images: ``<root>/train2014/*.jpg``,
    ``<root>/<name>/instances.json`` and ``<root>/<name>/<refs_file>`` (pickled, protocol 2,
    like the public release). One ref per object with two sentences; the last image's refs are
    in the 'val' split, the others in 'train'."""
    import pickle
    import shutil
    make_toy_coco(root, 'train2014', num_images=num_images, seed=seed)
    Path(root, name).mkdir(parents=True, exist_ok=True)
    src = osp.join(root, 'annotations', 'instances_train2014.json')
    shutil.copy(src, osp.join(root, name, 'instances.json'))
    with open(src) as f:
        coco = json.load(f)
    refs, sent_id = [], 0
    for ann in coco['annotations']:
        shape = TOY_CLASSES[ann['category_id'] - 1]
        x, y, w, h = ann['bbox']
        side = 'left' if x + w / 2 < 40 else 'right'
        sentences = []
        for sent in (f'the {shape}', f'the {shape} on the {side}'):
            sentences.append(dict(tokens=sent.split(), raw=sent, sent=sent, sent_id=sent_id))
            sent_id += 1
        refs.append(dict(ref_id=ann['id'], ann_id=ann['id'], image_id=ann['image_id'],
                         split='val' if ann['image_id'] == num_images else 'train',
                         category_id=ann['category_id'], sentences=sentences,
                         sent_ids=[s['sent_id'] for s in sentences],
                         file_name=f'train2014_{ann["image_id"]:04d}_{ann["id"]}.jpg'))
    with open(osp.join(root, name, refs_file), 'wb') as f:
        pickle.dump(refs, f, protocol=2)
    return refs
