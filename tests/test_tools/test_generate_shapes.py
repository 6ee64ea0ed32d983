"""tools/dataset_converters/generate_shapes.py: the synthetic "shapes" benchmark.

A small set (10 train / 5 val images) is generated twice (1 and 2 processes) and read back with
the real dataset classes and pipelines of configs/psalm/_base_/datasets/shapes.py. Expressions are
re-checked by a parser written here, on attributes measured from the files (shape from the
category, colour from the JPEG pixels' hue, size from the visible area, position from the mask
centroid), not on the generator's own bookkeeping.
"""
import colorsys
import hashlib
import json
import os
import os.path as osp
import re

import cv2
import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch
from mmengine.config import Config
from panopticapi.utils import rgb2id

from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.registry import DATASETS, METRICS
from mmdet.utils import register_all_modules

from psalm.datasets.interactive_prompts import PROMPT_KEYS
from psalm.datasets.shapes_generator import generate_sample
from psalm.utils import import_script

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'psalm', '_base_', 'datasets', 'shapes.py')
NUM_TRAIN, NUM_VAL = 10, 5
THINGS = ('circle', 'square', 'triangle', 'star')
STUFF = ('sky', 'grass', 'wall')


def _load_tool():
    return import_script(osp.join(REPO, 'tools', 'dataset_converters', 'generate_shapes.py'))


@pytest.fixture(scope='module')
def tool():
    return _load_tool()


@pytest.fixture(scope='module')
def sets(tool, tmp_path_factory):
    """The same set generated with 1 and with 2 processes."""
    base = tmp_path_factory.mktemp('shapes')
    out = {}
    for nproc in (1, 2):
        root = str(base / f'nproc{nproc}')
        meta = tool.generate_shapes(root, NUM_TRAIN, NUM_VAL, seed=3, nproc=nproc)
        assert not meta['skipped']
        out[nproc] = root
    return out


@pytest.fixture(scope='module')
def root(sets):
    return sets[1]


def _hashes(root):
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = osp.join(folder, name)
            with open(path, 'rb') as f:
                out[osp.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return out


def _load(root, rel):
    with open(osp.join(root, rel)) as f:
        return json.load(f)


# ------------------------------------------------------------------------------------------
# Determinism, layout, atomic writing
# ------------------------------------------------------------------------------------------
def test_layout_and_determinism(sets, tool, tmp_path):
    a, b = _hashes(sets[1]), _hashes(sets[2])
    assert a == b  # byte-identical with 1 and 2 processes
    for split, n in (('train', NUM_TRAIN), ('val', NUM_VAL)):
        assert sum(k.startswith(f'{split}/') and k.endswith('.jpg') for k in a) == n
        assert sum(k.startswith(f'annotations/panoptic_{split}/') for k in a) == n
        for rel in (f'annotations/panoptic_{split}.json', f'annotations/instances_{split}.json',
                    f'coco_interactive_{split}_psalm.json',
                    f'llava/shapes_instruct_{split}.json'):
            assert rel in a
    assert {'refer/instances.json', 'refer/refs.json', 'refer/grefs.json', 'meta.json'} <= set(a)
    # no temporary folder left beside the sets
    assert sorted(os.listdir(osp.dirname(sets[1]))) == ['nproc1', 'nproc2']

    # another seed: other images; more train images: the first ones unchanged
    other = tool.generate_shapes(str(tmp_path / 'seed4'), NUM_TRAIN, NUM_VAL, seed=4, nproc=1)
    assert other['settings']['seed'] == 4
    c = _hashes(str(tmp_path / 'seed4'))
    assert all(c[k] != a[k] for k in a if k.endswith('.jpg'))
    tool.generate_shapes(str(tmp_path / 'more'), NUM_TRAIN + 2, NUM_VAL, seed=3, nproc=1)
    d = _hashes(str(tmp_path / 'more'))
    assert all(d[k] == a[k] for k in a if k.endswith(('.jpg', '.png')))
    assert sum(k.endswith('.jpg') for k in d) == NUM_TRAIN + 2 + NUM_VAL


def test_skip_force_and_refusals(tool, tmp_path, capsys, monkeypatch):
    out = str(tmp_path / 'set')
    args = [out, '--num-train', '2', '--num-val', '1', '--nproc', '1']
    assert tool.main(args) == 0
    meta_file = osp.join(out, 'meta.json')
    stamp = os.stat(meta_file).st_mtime_ns
    assert tool.main(args) == 0  # complete with the same settings: kept
    assert 'kept' in capsys.readouterr().out
    assert os.stat(meta_file).st_mtime_ns == stamp
    # other settings: refused without --force, regenerated with it
    assert tool.main([out, '--num-train', '3', '--num-val', '1', '--nproc', '1']) == 1
    assert 'other settings' in capsys.readouterr().err
    assert tool.main([out, '--num-train', '3', '--num-val', '1', '--nproc', '1', '--force']) == 0
    assert _load(out, 'meta.json')['settings']['num_train'] == 3
    assert len(os.listdir(osp.join(out, 'train'))) == 3
    # a folder that is not a shapes set is never overwritten without --force
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'keep.txt').write_text('x')
    with pytest.raises(FileExistsError, match='not a complete shapes set'):
        tool.generate_shapes(str(foreign), 2, 1, nproc=1)
    assert (foreign / 'keep.txt').exists()
    # a failure leaves nothing behind: neither a half-written set nor its temporary folder, and
    # an existing set stays as it was
    with pytest.raises(ValueError, match='at most'):
        tool.generate_shapes(str(tmp_path / 'huge'), 10**6, 1, nproc=1)

    def fail(*args, **kwargs):
        raise RuntimeError('disk full')

    before = _hashes(out)
    monkeypatch.setattr(tool, 'write_annotations', fail)  # after the images are written
    with pytest.raises(RuntimeError, match='disk full'):
        tool.generate_shapes(str(tmp_path / 'broken'), 2, 1, nproc=1)
    with pytest.raises(RuntimeError, match='disk full'):
        tool.generate_shapes(out, 2, 1, nproc=1, force=True)
    assert sorted(os.listdir(tmp_path)) == ['foreign', 'set']
    assert _hashes(out) == before
    with pytest.raises(SystemExit):
        tool.parse_args([out, '--num-val', '0'])


# ------------------------------------------------------------------------------------------
# Panoptic and instances agree
# ------------------------------------------------------------------------------------------
def test_panoptic_pngs_agree_with_instances(root):
    for split in ('train', 'val'):
        pan = _load(root, f'annotations/panoptic_{split}.json')
        inst = _load(root, f'annotations/instances_{split}.json')
        cats = pan['categories']
        assert [c['name'] for c in cats] == list(THINGS + STUFF)
        assert [c['isthing'] for c in cats] == [1] * 4 + [0] * 3
        assert [c['name'] for c in inst['categories']] == list(THINGS)
        assert inst['images'] == pan['images']
        anns = {a['id']: a for a in inst['annotations']}
        seen = set()
        for image, entry in zip(pan['images'], pan['annotations']):
            assert entry['image_id'] == image['id']
            png = cv2.imread(osp.join(root, 'annotations', f'panoptic_{split}',
                                      entry['file_name']))[..., ::-1]
            ids = rgb2id(png)
            segs = entry['segments_info']
            assert sorted(np.unique(ids).tolist()) == sorted(s['id'] for s in segs)  # no void
            things = [s for s in segs if s['category_id'] <= 4]
            assert 2 <= len(things) <= 5 and 1 <= len(segs) - len(things) <= 3
            assert segs[:len(things)] == things  # things first, then stuff
            for s in segs:
                mask = ids == s['id']
                ys, xs = np.nonzero(mask)
                assert s['area'] == mask.sum() and s['iscrowd'] == 0
                assert s['bbox'] == [xs.min(), ys.min(), xs.max() - xs.min() + 1,
                                     ys.max() - ys.min() + 1]
                if s in things:
                    ann = anns[s['id']]
                    seen.add(s['id'])
                    assert ann['image_id'] == image['id']
                    assert ann['category_id'] == s['category_id'] and ann['iscrowd'] == 0
                    assert ann['bbox'] == s['bbox'] and ann['area'] == s['area']
                    decoded = mask_util.decode(dict(ann['segmentation'],
                                                    counts=ann['segmentation']['counts'].encode()))
                    assert np.array_equal(decoded.astype(bool), mask)
        assert seen == set(anns)


def test_panoptic_metric_scores_the_ground_truth(root):
    """The panoptic files are what CocoPanopticMetric (from the config) reads: the ground truth
    as prediction scores PQ 100, a prediction with a thing merged into the stuff less."""
    cfg = Config.fromfile(CONFIG)
    metric_cfg = dict(cfg.shapes_panoptic_evaluator,
                      ann_file=osp.join(root, 'annotations', 'panoptic_val.json'),
                      seg_prefix=osp.join(root, 'annotations', 'panoptic_val'))
    pan = _load(root, 'annotations/panoptic_val.json')
    names = list(cfg.shapes_metainfo['classes'])

    def run(corrupt):
        metric = METRICS.build(metric_cfg)
        metric.dataset_meta = dict(cfg.shapes_metainfo)
        for image, entry in zip(pan['images'], pan['annotations']):
            ids = rgb2id(cv2.imread(osp.join(root, 'annotations', 'panoptic_val',
                                             entry['file_name']))[..., ::-1])
            pred = np.zeros_like(ids)
            for k, s in enumerate(entry['segments_info']):
                pred[ids == s['id']] = (s['category_id'] - 1) + k * INSTANCE_OFFSET
            if corrupt:  # the first thing labelled as the last stuff segment
                pred[pred == pred[ids == entry['segments_info'][0]['id']][0]] = \
                    pred[ids == entry['segments_info'][-1]['id']][0]
            metric.process({}, [dict(img_id=image['id'], img_path=image['file_name'],
                                     ori_shape=ids.shape,
                                     pred_panoptic_seg=dict(sem_seg=torch.from_numpy(pred)[None]))])
        return metric.evaluate(len(pan['images']))

    assert len(names) == 7
    perfect = run(False)
    assert perfect['coco_panoptic/PQ'] == pytest.approx(100.0)
    assert run(True)['coco_panoptic/PQ'] < 95


# ------------------------------------------------------------------------------------------
# The real dataset classes and pipelines read every format
# ------------------------------------------------------------------------------------------
def _build(cfg, name, root):
    # serialize_data=False: skips mmengine's gc.collect() per build (about a second each here)
    return DATASETS.build(dict(cfg[name], data_root=osp.join(root, ''), serialize_data=False))


def _rle_mask(segmentation):
    return mask_util.decode(dict(segmentation, counts=segmentation['counts'].encode())).astype(bool)


def test_datasets_from_the_base_config(root):
    register_all_modules()
    import psalm  # noqa: F401  (registers the project's modules)
    cfg = Config.fromfile(CONFIG)
    inst = _load(root, 'refer/instances.json')
    anns = {a['id']: a for a in inst['annotations']}

    # panoptic: every segment is a target, labels as in the json, masks partition the image
    ds = _build(cfg, 'shapes_panoptic_train', root)
    assert len(ds) == NUM_TRAIN
    assert ds.metainfo['classes'] == tuple(THINGS + STUFF)
    sample = ds[0]['data_samples']
    entry = _load(root, 'annotations/panoptic_train.json')['annotations'][0]
    assert sample.metainfo['categories'] == list(THINGS + STUFF)
    assert sample.metainfo['is_thing'] == [True] * 4 + [False] * 3
    assert sample.gt_instances.labels.tolist() == [s['category_id'] - 1
                                                   for s in entry['segments_info']]
    masks = sample.gt_instances.masks.to_ndarray()
    assert masks.shape == (len(entry['segments_info']), 1024, 1024)
    assert (masks.sum(0) == 1).all()
    val = _build(cfg, 'shapes_panoptic_val', root)
    assert len(val) == NUM_VAL
    assert len(val[0]['data_samples'].metainfo['segments_info']) == len(
        _load(root, 'annotations/panoptic_val.json')['annotations'][0]['segments_info'])

    # referring: train joins nothing (one sentence drawn per access), val one sample per sentence
    refs = _load(root, 'refer/refs.json')
    train = _build(cfg, 'shapes_referring_train', root)
    assert len(train) == sum(r['split'] == 'train' for r in refs)
    info = train.get_data_info(0)
    assert info['text'] in [f" {s['sent']}." for s in refs[0]['sentences']]
    val = _build(cfg, 'shapes_referring_val', root)
    val_refs = [r for r in refs if r['split'] == 'val']
    assert len(val) == sum(len(r['sentences']) for r in val_refs)
    out = val[0]['data_samples']
    assert out.metainfo['task'] == 'referring'
    assert out.metainfo['text'] == f" {val_refs[0]['sentences'][0]['sent']}."
    gt = out.metainfo['gt_masks'].to_ndarray()
    assert gt.shape == (1, 128, 128)
    target = _rle_mask(anns[val_refs[0]['ann_id']]['segmentation'])
    assert np.array_equal(gt[0].astype(bool), target)

    # gRES: several, one or no target
    grefs = _load(root, 'refer/grefs.json')
    for split in ('train', 'val'):
        ds = _build(cfg, f'shapes_gres_{split}', root)
        split_grefs = [g for g in grefs if g['split'] == split]
        expected = [g for g in split_grefs for _ in g['sentences']]
        assert len(ds) == len(expected)
        kinds = set()
        for i, g in enumerate(expected):
            info = ds.get_data_info(i)
            assert info['no_target'] == g['no_target'] == (g['ann_id'] == [-1])
            assert len(info['instances']) == (0 if g['no_target'] else len(g['ann_id']))
            kinds.add(g['kind'])
        if split == 'train':
            assert kinds == {'multi', 'single', 'none'}
            k = next(i for i, g in enumerate(expected) if g['no_target'])
            none = ds[k]['data_samples']
            assert none.metainfo['no_target'] is True and len(none.gt_instances) == 0
            k = next(i for i, g in enumerate(expected) if g['kind'] == 'multi')
            assert len(ds[k]['data_samples'].gt_instances) == len(expected[k]['ann_id']) >= 2

    # interactive: the builder's output, one region per thing, each type readable
    train = _build(cfg, 'shapes_interactive_train', root)
    assert len(train) == NUM_TRAIN
    sample = train[0]['data_samples']
    first_image = _load(root, 'annotations/instances_train.json')['images'][0]['id']
    n = sum(a['image_id'] == first_image for a in inst['annotations'])
    assert len(sample.gt_instances) == n
    for kind in ('point', 'scribble', 'box', 'mask'):
        ds = _build(cfg, f'shapes_interactive_val_{kind}', root)
        out = ds[0]['data_samples']
        assert len(ds) == NUM_VAL
        assert out.metainfo['prompt_type'] == [kind] * len(out.metainfo['gt_masks'])

    # instruction samples: LLaVA conversations on the scene's image
    ds = _build(cfg, 'shapes_instruct_train', root)
    sample = ds[0]['data_samples']
    turns = sample.metainfo['conversation']
    assert sample.metainfo['task'] == 'conversation'
    assert turns[0]['from'] == 'human' and turns[0]['value'].startswith('<image>\n')
    assert sample.metainfo['ori_shape'] == (128, 128)

    # the evaluators build
    for name in ('shapes_referring_evaluator', 'shapes_gres_evaluator',
                 'shapes_interactive_evaluator'):
        METRICS.build(cfg[name])


def test_interactive_prompts(root):
    """Points lie inside their targets (the in-mask rule) and prompts are at the image size."""
    for split in ('train', 'val'):
        entries = _load(root, f'coco_interactive_{split}_psalm.json')
        inst = _load(root, f'annotations/instances_{split}.json')
        assert [e['image_info']['id'] for e in entries] == [i['id'] for i in inst['images']]
        assert sum(len(e['anns']) for e in entries) == len(inst['annotations'])
        for e in entries:
            for ann in e['anns']:
                target = _rle_mask(ann['segmentation'])
                point = _rle_mask(ann[PROMPT_KEYS['point']])
                assert point.sum() == 1 and (point & target).any()
                for key in PROMPT_KEYS.values():
                    assert ann[key]['size'] == [128, 128]


# ------------------------------------------------------------------------------------------
# Expressions, checked independently
# ------------------------------------------------------------------------------------------
_HUES = dict(red=0, yellow=50, green=128, blue=226, purple=280)  # degrees


def _colour_name(rgb):
    h, s, v = colorsys.rgb_to_hsv(*(np.asarray(rgb) / 255.0))
    assert s > 0.5 and v > 0.5, f'not a saturated colour: {rgb}'
    deg = h * 360
    return min(_HUES, key=lambda n: min(abs(deg - _HUES[n]), 360 - abs(deg - _HUES[n])))


def _measure(root, split, image, annotations):
    """What the image shows of each thing: shape, colour (pixels), size (area), centroid."""
    rgb = cv2.imread(osp.join(root, split, image['file_name']))[..., ::-1]
    things = {}
    for ann in annotations:
        mask = _rle_mask(ann['segmentation'])
        core = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        ys, xs = np.nonzero(mask)
        things[ann['id']] = dict(
            shape=THINGS[ann['category_id'] - 1],
            colour=_colour_name(np.median(rgb[core if core.any() else mask], 0)),
            size='small' if mask.sum() < 600 else 'large', cx=xs.mean(), cy=ys.mean())
        # the generator's bookkeeping agrees with what the pixels show
        assert ann['attributes'] == {k: things[ann['id']][k] for k in ('colour', 'size')}
    return things


_NOUNS = {**{s: s for s in THINGS}, **{s + 's': s for s in THINGS}, 'object': None,
          'objects': None, 'shape': None, 'shapes': None}


def _parse_np(text):
    words = text.split()
    if words and words[0] in ('the', 'all', 'every'):
        words = words[1:]
    if words and words[0] == 'the':  # 'all the ...'
        words = words[1:]
    if words[-3:] == ['in', 'the', 'image']:
        words = words[:-3]
    assert words and words[-1] in _NOUNS, f'cannot parse {text!r}'
    q = dict(shape=_NOUNS[words[-1]])
    for w in words[:-1]:
        if w in ('small', 'large'):
            q['size'] = w
        elif w in _HUES:
            q['colour'] = w
        else:
            raise AssertionError(f'unknown word {w!r} in {text!r}')
    return q


_EXTREME = [
    (r'^the (?:leftmost|topmost|rightmost|bottommost|highest|lowest) (.+)$', None),
    (r'^the (.+) (?:on the left|furthest to the left)$', 'left'),
    (r'^the (.+) (?:on the right|furthest to the right)$', 'right'),
    (r'^the (.+) at the top$', 'top'),
    (r'^the (.+) at the bottom$', 'bottom'),
]
_SUPERLATIVE = dict(leftmost='left', rightmost='right', topmost='top', bottommost='bottom',
                    highest='top', lowest='bottom')


def _select(sentence, things):
    """The set of thing ids ``sentence`` refers to, with plain semantics: attributes filter,
    'X left of Y' keeps the X whose centroid is left of the (single) Y's, 'the leftmost X'
    takes the X with the smallest centroid x (which must be unique)."""
    def match(q):
        return {i for i, t in things.items() if all(t[k] == v for k, v in q.items() if v)}

    m = re.match(r'^the (.+?) (?:to the )?(left|right) of the (.+)$', sentence) or \
        re.match(r'^the (.+?) (above|below|over|under) the (.+)$', sentence)
    if m:
        (landmark, ) = match(_parse_np(m.group(3)))
        rel = dict(over='above', under='below').get(m.group(2), m.group(2))
        lm = things[landmark]
        side = dict(left=lambda t: t['cx'] < lm['cx'], right=lambda t: t['cx'] > lm['cx'],
                    above=lambda t: t['cy'] < lm['cy'], below=lambda t: t['cy'] > lm['cy'])[rel]
        return {i for i in match(_parse_np(m.group(1))) - {landmark} if side(things[i])}
    for pattern, direction in _EXTREME:
        m = re.match(pattern, sentence)
        if m:
            if direction is None:
                direction = _SUPERLATIVE[sentence.split()[1]]
            cands = match(_parse_np('the ' + m.group(1)))
            key = dict(left=lambda i: things[i]['cx'], right=lambda i: -things[i]['cx'],
                       top=lambda i: things[i]['cy'], bottom=lambda i: -things[i]['cy'])[direction]
            ranked = sorted(cands, key=key)
            assert len(ranked) < 2 or key(ranked[0]) < key(ranked[1]), sentence
            return set(ranked[:1])
    return match(_parse_np(sentence))


def _images_and_things(root, split):
    inst = _load(root, f'annotations/instances_{split}.json')
    by_image = {}
    for ann in inst['annotations']:
        by_image.setdefault(ann['image_id'], []).append(ann)
    return {img['id']: _measure(root, split, img, by_image[img['id']]) for img in inst['images']}


def test_every_expression_refers_to_its_targets(root):
    things = {**_images_and_things(root, 'train'), **_images_and_things(root, 'val')}
    refs = _load(root, 'refer/refs.json')
    assert len({r['ref_id'] for r in refs}) == len(refs)
    assert len({s['sent_id'] for r in refs for s in r['sentences']}) == sum(
        len(r['sentences']) for r in refs)
    for ref in refs:
        assert 2 <= len(ref['sentences']) <= 3
        assert len({s['sent'] for s in ref['sentences']}) == len(ref['sentences'])
        for s in ref['sentences']:
            assert s['tokens'] == s['sent'].split() and s['raw'] == s['sent']
            assert _select(s['sent'], things[ref['image_id']]) == {ref['ann_id']}, s['sent']
        # 'needs more than the shape' <=> another thing of the image has the same shape
        scene = things[ref['image_id']]
        same_shape = [i for i, t in scene.items() if t['shape'] == scene[ref['ann_id']]['shape']]
        assert ref['needs_more_than_shape'] == (len(same_shape) > 1)
    grefs = _load(root, 'refer/grefs.json')
    for g in grefs:
        targets = set() if g['ann_id'] == [-1] else set(g['ann_id'])
        assert g['no_target'] == (not targets)
        assert g['kind'] == ('none' if not targets else 'single' if len(targets) == 1 else
                             'multi')
        for s in g['sentences']:
            assert _select(s['sent'], things[g['image_id']]) == targets, s['sent']


def test_instruction_answers(root):
    for split in ('train', 'val'):
        scenes = _images_and_things(root, split)
        images = _load(root, f'annotations/instances_{split}.json')['images']
        names = {i['file_name']: i['id'] for i in images}
        entries = _load(root, f'llava/shapes_instruct_{split}.json')
        for e in entries:
            things = list(scenes[names[osp.basename(e['image'])]].values())
            question = e['conversations'][0]['value'].split('\n', 1)[1]
            answer = e['conversations'][1]['value']
            if question == 'How many objects are there?':
                assert answer == str(len(things))
                continue
            m = re.match(r'^How many (\w+)s are there\?$', question)
            if m:
                assert answer == str(sum(t['shape'] == m.group(1) for t in things))
                continue
            m = re.match(r'^How many (\w+) objects are there\?$', question)
            if m:
                assert answer == str(sum(t['colour'] == m.group(1) for t in things))
                continue
            m = re.match(r'^What colour is the (\w+)\?$', question)
            if m:
                (t, ) = [t for t in things if t['shape'] == m.group(1)]
                assert answer == t['colour']
                continue
            m = re.match(r'^Is the (\w+) small or large\?$', question)
            if m:
                (t, ) = [t for t in things if t['shape'] == m.group(1)]
                assert answer == t['size']
                continue
            m = re.match(r'^What shape is the (\w+) object\?$', question)
            if m:
                (t, ) = [t for t in things if t['colour'] == m.group(1)]
                assert answer == t['shape']
                continue
            m = re.match(r'^Is there a (\w+) (\w+)\?$', question)
            assert m, question
            exists = any(t['colour'] == m.group(1) and t['shape'] == m.group(2) for t in things)
            assert answer == ('yes' if exists else 'no')


def test_expression_statistics():
    """Over 60 scenes (no files): the shares the benchmark is designed around."""
    refs, grefs = [], []
    for i in range(60):
        sample = generate_sample(0, 'val', i)
        refs += sample['refs']
        grefs += sample['grefs']
    more = np.mean([r['needs_more_than_shape'] for r in refs])
    spatial = np.mean([r['needs_spatial'] for r in refs])
    no_target = np.mean([g['kind'] == 'none' for g in grefs])
    multi = np.mean([g['kind'] == 'multi' for g in grefs])
    assert more >= 0.3  # colour, size or spatial words needed
    assert 0.03 <= spatial <= 0.25
    assert 0.1 <= no_target <= 0.3
    assert multi >= 0.3
