"""COCO-Interactive: prompt generation (paper appendix 8), the builder tool, the dataset."""
import json
import math
import os.path as osp
import re

import cv2
import numpy as np
import pycocotools.mask as mask_util
import pytest
from scipy.ndimage import distance_transform_edt, gaussian_filter

from mmengine.config import Config

from mmdet.registry import DATASETS
from mmdet.utils import register_all_modules
from psalm.datasets.coco_interactive import CocoInteractiveDataset
from psalm.datasets.interactive_prompts import (PROMPT_KEYS, PromptRules, box_iou, decode_crop,
                                                encode_crop, generate_prompts, image_rng,
                                                sample_point, sample_scribble,
                                                sample_scribble_box, scaled_box)
from psalm.utils import import_script

H, W = 96, 128
CONFIG = osp.join('configs', 'psalm', '_base_', 'datasets', 'coco_interactive.py')


def _load_tool(repo_root):
    return import_script(
        osp.join(repo_root, 'tools', 'dataset_converters', 'build_coco_interactive.py'))


def _rle(mask):
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {'counts': rle['counts'].decode('ascii'), 'size': list(rle['size'])}


def _poly(*xy):
    return [float(v) for v in xy]


def _write_fixture(root):
    """Four images and a COCO instances json, in the real format."""
    (root / 'train2017').mkdir(parents=True)
    ring = np.zeros((H, W), np.uint8)
    cv2.circle(ring, (95, 45), 20, 1, -1)
    cv2.circle(ring, (95, 45), 12, 0, -1)
    crowd = np.zeros((H, W), np.uint8)
    crowd[70:90, 90:120] = 1
    # crowd annotations hold uncompressed RLE (column-major run lengths, from a 0-run)
    runs = np.diff(np.flatnonzero(np.diff(np.r_[-1, crowd.T.ravel().astype(int), -1]))).tolist()
    anns = [
        # image 1: interior rectangle, ring (RLE), border triangle, tiny square, crowd
        dict(image_id=1, segmentation=[_poly(20, 20, 60, 20, 60, 50, 20, 50)]),
        dict(image_id=1, segmentation=_rle(ring)),
        dict(image_id=1, segmentation=[_poly(0, 70, 40, 95, 0, 95)]),
        dict(image_id=1, segmentation=[_poly(70, 80, 72, 80, 72, 82, 70, 82)]),
        dict(image_id=1, iscrowd=1, segmentation={'counts': runs, 'size': [H, W]}),
        # image 2: two-part instance, then an instance without a valid polygon
        dict(image_id=2, segmentation=[_poly(10, 10, 40, 10, 40, 40, 10, 40),
                                       _poly(60, 50, 100, 50, 100, 80, 60, 80)]),
        dict(image_id=2, segmentation=[_poly(5, 5, 9, 9)]),
        # image 7: a tiny instance only (its mask prompt is empty)
        dict(image_id=7, segmentation=[_poly(50, 50, 52, 50, 52, 52, 50, 52)]),
    ]
    for k, ann in enumerate(anns):
        m = _gt_mask(ann)
        x, y, w, h = mask_util.toBbox(mask_util.encode(np.asfortranarray(m))).tolist()
        ann.update(id=k + 1, category_id=1, area=float(m.sum()), bbox=[x, y, w, h],
                   iscrowd=ann.get('iscrowd', 0))
    images = []
    rng = np.random.default_rng(0)
    for img_id in (1, 2, 5, 7):
        name = f'{img_id:012d}.png'
        cv2.imwrite(str(root / 'train2017' / name),
                    rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
        images.append(dict(id=img_id, file_name=name, height=H, width=W))
    coco = dict(images=images, annotations=anns,
                categories=[dict(id=1, name='thing', supercategory='thing')])
    path = root / 'instances_train2017.json'
    path.write_text(json.dumps(coco))
    return path


@pytest.fixture(scope='module')
def built(tmp_path_factory, repo_root):
    """The fixture, its build (seed 0, one process) and the tool module."""
    register_all_modules()  # pipelines resolve in mmdet's scope
    root = tmp_path_factory.mktemp('coco')
    coco_file = _write_fixture(root)
    tool = _load_tool(repo_root)
    out = root / 'coco_interactive_train_psalm.json'
    assert tool.main([str(coco_file), str(out), '--seed', '0', '--nproc', '1']) == 0
    return dict(root=root, coco=json.loads(coco_file.read_text()), coco_file=coco_file,
                out=out, entries=json.loads(out.read_text()), tool=tool,
                cfg=Config.fromfile(osp.join(repo_root, CONFIG)))


def _decode(rle):
    return mask_util.decode(dict(rle, counts=rle['counts'].encode('ascii'))).astype(bool)


def _gt_mask(ann):
    seg = ann['segmentation']
    if isinstance(seg, dict):
        return mask_util.decode(mask_util.frPyObjects(seg, H, W)
                                if isinstance(seg['counts'], list) else
                                dict(seg, counts=seg['counts'].encode())).astype(bool)
    polys = [p for p in seg if len(p) >= 6]
    if not polys:
        return np.zeros((H, W), bool)
    return mask_util.decode(mask_util.merge(mask_util.frPyObjects(polys, H, W))).astype(bool)


def _box(mask):
    ys, xs = np.nonzero(mask)
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


def _instances(entries):
    for entry in entries:
        for ann in entry['anns']:
            yield ann, _gt_mask(ann)


# ---------------------------------------------------------------- builder output and rules


def test_output_format(built):
    entries, coco = built['entries'], built['coco']
    # image 5 has no annotation: skipped, as the reference; new_img_id counts kept images
    assert [e['image_info']['id'] for e in entries] == [1, 2, 7]
    assert [e['new_img_id'] for e in entries] == [0, 1, 2]
    assert [e['image'] for e in entries] == [f'{i:012d}.png' for i in (1, 2, 7)]
    assert sum(len(e['anns']) for e in entries) == len(coco['annotations'])
    for ann in built['entries'][0]['anns']:
        src = next(a for a in coco['annotations'] if a['id'] == ann['id'])
        assert {k: ann[k] for k in src} == src  # the COCO annotation, unchanged
        for key in PROMPT_KEYS.values():
            assert isinstance(ann[key]['counts'], str) and ann[key]['size'] == [H, W]
    # encode_crop gives pycocotools' bytes for any crop placement, decode_crop inverts it
    rng = np.random.default_rng(0)
    for _ in range(200):
        h, w = rng.integers(1, 30, 2)
        ch, cw = rng.integers(0, h + 1), rng.integers(0, w + 1)
        x0, y0 = rng.integers(0, w - cw + 1), rng.integers(0, h - ch + 1)
        crop = rng.random((ch, cw)) < rng.random()
        full = np.zeros((h, w), bool)
        full[y0:y0 + ch, x0:x0 + cw] = crop
        rle = encode_crop(crop, x0, y0, h, w)
        assert rle == _rle(full)
        if ch and cw:
            assert (decode_crop(rle, x0, y0, x0 + cw, y0 + ch) == crop).all()
    big = np.zeros((2000, 3000), bool)  # runs long enough for 7 groups, negative deltas
    big[1500:1990, 2500:2999] = big[3, 4] = True
    assert (decode_crop(_rle(big), 2490, 3, 3000, 2000) == big[3:, 2490:]).all()


def test_point_in_circle(built):
    n_off = 0
    for ann, gt in _instances(built['entries']):
        point = _decode(ann['point_visual_prompt_mask'])
        if not gt.any():
            assert not point.any()
            continue
        assert point.sum() == 1
        (y, x), = np.argwhere(point)
        x0, y0, x1, y1 = _box(gt)
        radius = 0.5 * min(x1 - x0, y1 - y0)
        # pixel centre within the disc, up to the pixel's half-diagonal
        assert math.hypot(x + 0.5 - (x0 + x1) / 2, y + 0.5 - (y0 + y1) / 2) <= radius + 0.71
        n_off += not gt[y, x]
    # many draws: inside the disc and uniform over its area (E[r^2] = R^2 / 2)
    rng = np.random.default_rng(1)
    box = (10, 20, 110, 60)
    pts = np.array([sample_point(box, rng) for _ in range(4000)]) + 0.5
    r2 = ((pts - [60, 40]) ** 2).sum(1)
    assert r2.max() <= (20 + 0.71) ** 2
    assert abs(r2.mean() / 400 - 0.5) < 0.05


def test_point_in_mask_variant():
    # a ring: the paper's point may miss it, the reference's never does (or is empty)
    ring = np.zeros((H, W), np.uint8)
    cv2.circle(ring, (60, 48), 30, 1, -1)
    cv2.circle(ring, (60, 48), 24, 0, -1)
    box = _box(ring)
    rng = np.random.default_rng(0)
    paper = [sample_point(box, rng) for _ in range(200)]
    assert sum(not ring[y, x] for x, y in paper) > 100  # the hole covers most of the disc
    rules = PromptRules(point='in_mask')
    for _ in range(200):
        p = sample_point(box, rng, rules, ring[box[1]:box[3], box[0]:box[2]])
        assert p is None or ring[p[1], p[0]]


def test_box_scale(built):
    checked = 0
    for ann, gt in _instances(built['entries']):
        if not gt.any():
            continue
        x0, y0, x1, y1 = _box(gt)
        b = _decode(ann['box_visual_prompt_mask'])
        bx0, by0, bx1, by1 = _box(b)
        assert b.sum() == (bx1 - bx0) * (by1 - by0)  # a filled box
        if min(bx0, by0) == 0 or bx1 == W or by1 == H or x1 - x0 < 10 or y1 - y0 < 10:
            continue  # clipped by the image or dominated by rounding
        sw, sh = (bx1 - bx0) / (x1 - x0), (by1 - by0) / (y1 - y0)
        for s, side in ((sw, x1 - x0), (sh, y1 - y0)):
            assert 0.9 - 1 / side <= s <= 1.1 + 1 / side
        assert abs(sw - sh) <= 1 / (x1 - x0) + 1 / (y1 - y0)  # one factor for both sides
        assert abs((bx0 + bx1) - (x0 + x1)) <= 1 and abs((by0 + by1) - (y0 + y1)) <= 1
        checked += 1
    assert checked >= 3
    rng = np.random.default_rng(2)
    scales = np.array([(b[2] - b[0]) / 400 for b in
                       (scaled_box((300, 300, 700, 500), (1000, 1000), rng) for _ in range(500))])
    assert scales.min() >= 0.9 - 1 / 400 and scales.max() <= 1.1 + 1 / 400
    assert scales.min() < 0.91 and scales.max() > 1.09


def test_scribble_rules(built):
    rng = np.random.default_rng(3)
    box, hw = (200, 300, 300, 360), (1000, 1000)  # far from the image border: no clipping
    jittered = np.array([sample_scribble_box(box, hw, rng) for _ in range(500)])
    assert (box_iou(jittered, box) > 0.5).all()
    scale = (jittered[:, 2:] - jittered[:, :2]) / [100, 60]
    assert scale.min() >= 0.5 - 1e-9 and scale.max() <= 1.2 + 1e-9
    assert scale.min() < 0.6 and scale.max() > 1.15
    assert np.allclose(jittered[:, :2] + jittered[:, 2:], [500, 660])  # same centre
    # the curve: along a diagonal, displaced by at most the amplitude along its normal
    strict = PromptRules(scribble_scale=(1.0, 1.0))
    dev = []
    for _ in range(50):
        pts = sample_scribble(box, hw, rng, strict)
        d = pts - [200, 300]
        main = np.cross(d, [100, 60]) / math.hypot(100, 60)
        anti = np.cross(pts - [200, 360], [100, -60]) / math.hypot(100, 60)
        dev.append(min(np.abs(main).max(), np.abs(anti).max()))
        assert dev[-1] <= 20 + 1e-6
    assert max(dev) > 15 and min(dev) < 15  # amplitude spread over [10, 20]
    for ann, gt in _instances(built['entries']):
        s = _decode(ann['scribble_visual_prompt_mask'])
        if not gt.any():
            assert not s.any()
            continue
        assert cv2.connectedComponents(s.astype(np.uint8), connectivity=8)[0] == 2  # 1 stroke
        x0, y0, x1, y1 = _box(gt)
        cx, cy, hw_, hh = (x0 + x1) / 2, (y0 + y1) / 2, 0.6 * (x1 - x0), 0.6 * (y1 - y0)
        ys, xs = np.nonzero(s)
        assert (np.abs(xs + 0.5 - cx) <= hw_ + 21).all()
        assert (np.abs(ys + 0.5 - cy) <= hh + 21).all()


def test_mask_prompt_is_blur_then_threshold(built, tmp_path, capsys):
    for ann, gt in _instances(built['entries']):
        blur = gaussian_filter(gt.astype(float), sigma=2)
        got = _decode(ann['mask_visual_prompt_mask'])
        tie = np.abs(blur - 0.5) < 1e-9
        assert ((got == (blur > 0.5)) | tie).all()
    # the full-mask API draws like the builder: image 1's first instance, its first draws
    first = built['entries'][0]['anns'][0]
    prompts = generate_prompts(_gt_mask(first), image_rng(0, 1))
    assert prompts == {t: first[key] for t, key in PROMPT_KEYS.items()}
    tiny = next(a for a in built['entries'][2]['anns'])
    assert not _decode(tiny['mask_visual_prompt_mask']).any()  # a 2x2 object blurs below 0.5
    # the reference's variant: threshold at the blurred image's mean
    out = tmp_path / 'ref.json'
    assert built['tool'].main([str(built['coco_file']), str(out), '--mask-threshold', 'mean',
                               '--point-rule', 'in_mask']) == 0
    assert re.search(r'32 prompts in [\d.]+ s: \d+ prompts/s', capsys.readouterr().out)
    for ann, gt in _instances(json.loads(out.read_text())):
        blur = gaussian_filter(gt.astype(float), sigma=2)
        got = _decode(ann['mask_visual_prompt_mask'])
        assert (got == (blur > blur.mean())).all() if gt.any() else not got.any()
        p = _decode(ann['point_visual_prompt_mask'])
        assert not p.any() or gt[p].all()


def test_determinism(built, tmp_path):
    tool, coco_file = built['tool'], str(built['coco_file'])
    again, parallel, other = tmp_path / 'a.json', tmp_path / 'b.json', tmp_path / 'c.json'
    tool.build_coco_interactive(coco_file, str(again), seed=0, nproc=1)
    tool.build_coco_interactive(coco_file, str(parallel), seed=0, nproc=2)
    tool.build_coco_interactive(coco_file, str(other), seed=1, nproc=1)
    assert again.read_bytes() == built['out'].read_bytes() == parallel.read_bytes()
    assert other.read_bytes() != built['out'].read_bytes()
    # --max-images keeps a prefix: same generator per image
    head = tmp_path / 'd.json'
    tool.build_coco_interactive(coco_file, str(head), seed=0, max_images=1)
    assert json.loads(head.read_text()) == built['entries'][:1]


# ---------------------------------------------------------------- dataset and pipeline


def _dataset(built, which='train', ann_file=None, **overrides):
    """The config's dataset (``which``: train or val) on the fixture."""
    cfg = dict(built['cfg'][f'coco_interactive_{which}'], data_root=str(built['root']),
               ann_file=str(ann_file or built['out']), data_prefix=dict(img='train2017/'))
    dataset = DATASETS.build(dict(cfg, **overrides))
    assert isinstance(dataset, CocoInteractiveDataset)
    return dataset


def _no_resize(built):
    return [t for t in built['cfg'].coco_interactive_train_pipeline if t['type'] != 'Resize']


def _region_gt_iou(region, gt):
    return (region & gt).sum() / max((region | gt).sum(), 1)


def test_train_pipeline_shapes_and_order(built):
    ds = _dataset(built, 'train', prompt_type='mask')
    # image 7's only instance has an empty mask prompt: the image is skipped
    assert [ds.get_data_info(i)['img_id'] for i in range(len(ds))] == [1, 2]
    out = ds[0]
    sample = out['data_samples']
    assert sample.task == 'interactive' and sample.ori_shape == (H, W)
    assert sample.img_shape == (768, 1024) and out['inputs'].shape == (3, 768, 1024)
    regions, gts = sample.region_masks, sample.gt_instances.masks.to_ndarray().astype(bool)
    # crowd dropped, tiny square dropped with its target: rectangle, ring, triangle
    assert regions.shape == gts.shape == (3, 768, 1024)
    iou = np.array([[_region_gt_iou(r, g) for g in gts] for r in regions])
    assert (iou.argmax(1) == np.arange(3)).all() and iou.diagonal().min() > 0.6
    # image 2: the two-part instance only (the 2-point polygon is dropped)
    assert len(ds[1]['data_samples'].region_masks) == 1


def test_val_pipeline_targets_at_original_size(built):
    ds = _dataset(built, 'val')  # point prompts, test mode
    assert len(ds) == 3  # the tiny object of image 7 has a point
    sample = ds[0]['data_samples']
    anns = [a for a in built['entries'][0]['anns'] if not a['iscrowd']]
    assert sample.prompt_type == ['point'] * 4 and sample.region_masks.shape == (4, 768, 1024)
    gts = sample.gt_masks.to_ndarray().astype(bool)  # metainfo, for the metric
    assert gts.shape == (4, H, W)
    for gt, ann in zip(gts, anns):
        assert (gt == _gt_mask(ann)).all()


def test_point_and_scribble_dilation(built):
    ds = _dataset(built, 'val', pipeline=_no_resize(built))
    sample = ds[0]['data_samples']
    yy, xx = np.mgrid[:H, :W]
    # regions follow the non-crowd instances with a point: rectangle, ring, triangle, tiny
    anns = [a for a in built['entries'][0]['anns'] if not a['iscrowd']]
    assert len(sample.region_masks) == len(anns) == 4
    for region, ann in zip(sample.region_masks, anns):
        (y, x), = np.argwhere(_decode(ann['point_visual_prompt_mask']))
        assert (region == (np.hypot(yy - y, xx - x) <= 10)).all()
    assert sample.region_masks[0].sum() == 317  # interior disc of radius 10
    # resized: a disc of radius 10 * scale around the scaled point
    resized = _dataset(built, 'val')[0]['data_samples']
    scale = 1024 / W
    (y, x), = np.argwhere(_decode(anns[0]['point_visual_prompt_mask']))
    area = resized.region_masks[0].sum()
    assert abs(area / (math.pi * (10 * scale) ** 2) - 1) < 0.05
    assert resized.region_masks[0][int((y + 0.5) * scale), int((x + 0.5) * scale)]
    ds = _dataset(built, 'val', prompt_type='scribble', pipeline=_no_resize(built))
    for region, ann in zip(ds[0]['data_samples'].region_masks, anns):
        stroke = _decode(ann['scribble_visual_prompt_mask'])
        assert (region == (distance_transform_edt(~stroke) <= 5)).all()


def test_fixed_type_skips_empty_prompts(built, tmp_path):
    entries = json.loads(built['out'].read_text())
    empty = {'counts': mask_util.encode(np.zeros((H, W), np.uint8, order='F'))['counts']
             .decode(), 'size': [H, W]}
    entries[0]['anns'][1]['point_visual_prompt_mask'] = empty  # the ring loses its point
    ann_file = tmp_path / 'edited.json'
    ann_file.write_text(json.dumps(entries))
    sample = _dataset(built, 'val', ann_file)[0]['data_samples']
    gts = sample.gt_masks.to_ndarray().astype(bool)
    # rectangle, triangle, tiny square: the ring is skipped with its target
    assert len(sample.region_masks) == len(gts) == len(sample.gt_instances) == 3
    for gt, j in zip(gts, (0, 2, 3)):
        assert (gt == _gt_mask(entries[0]['anns'][j])).all()
    x, y, w, h = entries[0]['anns'][2]['bbox']
    assert np.allclose(sample.gt_instances.bboxes.tensor[1].numpy(), [x, y, x + w, y + h])
    # random types still use the ring, never with a point
    ds = _dataset(built, 'train', ann_file, pipeline=[])
    assert 'visual_prompts' not in ds.get_data_info(0)  # drawn per sample, not at load time
    np.random.seed(0)
    drawn = [[p['type'] for p in ds[0]['visual_prompts']] for _ in range(40)]
    assert all(len(d) == 4 for d in drawn)
    assert {d[1] for d in drawn} == {'scribble', 'box', 'mask'}
    assert {d[0] for d in drawn} == {'point', 'scribble', 'box', 'mask'}
    assert {d[3] for d in drawn} == {'point', 'scribble', 'box'}  # tiny: no mask prompt
    assert len({tuple(d) for d in drawn}) > 10
    out = ds[0]
    assert out['prompt_type'] == [p['type'] for p in out['visual_prompts']]
    for p in out['visual_prompts']:
        assert _decode(p['mask']).any()


def test_random_type_training_pipeline(built):
    ds = _dataset(built, 'train')
    assert len(ds) == 3  # the tiny-only image keeps its point, scribble and box
    np.random.seed(1)
    draws = [ds[0]['data_samples'] for _ in range(6)]
    areas = {tuple(int(m.sum()) for m in d.region_masks) for d in draws}
    assert len(areas) > 1  # the rasterised regions change from draw to draw


# ---------------------------------------------------------------- malformed input


def test_malformed_json(built, tmp_path, capsys):
    entries = json.loads(built['out'].read_text())
    bad = tmp_path / 'bad.json'
    del entries[1]['anns'][0]['scribble_visual_prompt_mask']
    bad.write_text(json.dumps(entries))
    with pytest.raises(ValueError, match=r'bad\.json.*entry 1.*scribble_visual_prompt_mask'):
        _dataset(built, 'train', bad)
    _dataset(built, 'val', bad, prompt_type='box')  # that type is not read
    entries = json.loads(built['out'].read_text())
    del entries[2]['anns']
    bad.write_text(json.dumps(entries))
    with pytest.raises(ValueError, match=r"bad\.json.*entry 2.*'anns'"):
        _dataset(built, 'val', bad)
    with pytest.raises(ValueError, match='prompt_type'):
        _dataset(built, prompt_type='lasso')
    # the builder names the file, the annotation and the field; nothing is left behind
    coco = json.loads(built['coco_file'].read_text())
    del coco['annotations'][3]['segmentation']
    bad_coco = tmp_path / 'instances_bad.json'
    bad_coco.write_text(json.dumps(coco))
    out = tmp_path / 'never.json'
    with pytest.raises(ValueError, match=r"instances_bad\.json.*annotations\[3\].*'segmentation'"):
        built['tool'].build_coco_interactive(str(bad_coco), str(out))
    coco['annotations'][3]['segmentation'] = {'counts': 'abc', 'size': [H + 1, W]}
    bad_coco.write_text(json.dumps(coco))
    assert built['tool'].main([str(bad_coco), str(out), '--nproc', '2']) == 1
    assert re.search(r"instances_bad\.json: annotation id=4 .*'segmentation'.*size",
                     capsys.readouterr().err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['bad.json', 'instances_bad.json']
