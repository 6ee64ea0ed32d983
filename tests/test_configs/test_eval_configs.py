"""The benchmark configs (``configs/psalm/psalm_swinb_phi15_test_*.py``): one per benchmark,
shallow inheritance, the released model unchanged, the right datasets, evaluators and loops; and
each one run end to end (tiny model, toy data in the benchmark's layout) so that its pipeline
provides what its metrics read."""
import ast
import glob
import json
import math
import os
import os.path as osp

import cv2
import numpy as np
import pycocotools.mask as mask_util
import pytest
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.runner import Runner
from PIL import Image

from mmdet.datasets import ADE20KInstanceDataset, ADE20KPanopticDataset
from mmdet.registry import DATASETS, METRICS
from mmdet.utils import register_all_modules

from psalm.datasets.class_names import load_class_names
from psalm.testing import make_toy_coco_panoptic, make_toy_refer
from psalm.testing.tiny_eval import (make_toy_grefcoco, make_toy_interactive,
                                     make_toy_panoptic_instances, save_random_checkpoint,
                                     tiny_eval_config)
from psalm.utils import import_script

PREFIX = 'configs/psalm/psalm_swinb_phi15_test_'
TINY = 'configs/psalm/psalm_tiny_phi_joint.py'
MODEL = 'configs/psalm/_base_/models/psalm_swinb_phi15.py'
# benchmark -> (dataset base, dataset type, metric types, test loop)
EXPECTED = {
    'coco-panoptic': ('coco_panoptic', 'PSALMCocoPanopticDataset',
                      ['CocoPanopticMetric', 'CocoMetric', 'OVSemSegMetric'], 'TestLoop'),
    'refcoco': ('refcoco', 'PSALMRefCocoDataset', ['ReferringSegMetric'], 'TestLoop'),
    'refcoco-plus': ('refcoco', 'PSALMRefCocoDataset', ['ReferringSegMetric'], 'TestLoop'),
    'refcocog': ('refcoco', 'PSALMRefCocoDataset', ['ReferringSegMetric'], 'TestLoop'),
    'grefcoco': ('grefcoco', 'GRefCocoDataset', ['GRESMetric'], 'TestLoop'),
    'coco-interactive': ('coco_interactive', 'CocoInteractiveDataset', ['InteractiveSegMetric'],
                         'TestLoop'),
    'ade20k-150': ('open_vocab', 'PSALMADE20KPanopticDataset',
                   ['CocoPanopticMetric', 'LabelMappedCocoMetric', 'OVSemSegMetric'], 'TestLoop'),
    'ade20k-150-semantic': ('open_vocab', 'PSALMADE20KSegDataset', ['OVSemSegMetric'],
                            'TestLoop'),
    'cityscapes-semantic': ('open_vocab', 'PSALMCityscapesSegDataset', ['OVSemSegMetric'],
                            'TestLoop'),
    'cityscapes-instance': ('open_vocab', 'PSALMCityscapesInstanceDataset', ['CocoMetric'],
                            'TestLoop'),
    'pascal-context-59': ('open_vocab', 'PSALMPascalContext59Dataset', ['OVSemSegMetric'],
                          'TestLoop'),
    'pascal-context-459': ('open_vocab', 'PSALMPascalContext459Dataset', ['OVSemSegMetric'],
                           'TestLoop'),
    'pascal-voc-20': ('open_vocab', 'PSALMPascalVOC20Dataset', ['OVSemSegMetric'], 'TestLoop'),
    'davis-2017': ('davis', 'DAVISDataset', ['DAVISMetric'], 'VOSTestLoop'),
}
SIZE = (40, 60)  # toy images of the open-vocabulary sets


def _path(repo_root, name):
    return osp.join(repo_root, f'{PREFIX}{name}.py')


def _bases(path):
    """The ``_base_`` list of a config file, as absolute paths."""
    for node in ast.parse(open(path).read()).body:
        if isinstance(node, ast.Assign) and node.targets[0].id == '_base_':
            value = ast.literal_eval(node.value)
            value = [value] if isinstance(value, str) else value
            return [osp.normpath(osp.join(osp.dirname(path), v)) for v in value]
    return []


def _depth(path):
    return 1 + max((_depth(b) for b in _bases(path)), default=0)


def _metric_cfgs(cfg):
    ev = cfg.test_evaluator
    return list(ev) if isinstance(ev, (list, tuple)) else [ev]


def test_one_config_per_benchmark(repo_root):
    found = {osp.basename(p)[len(osp.basename(PREFIX)):-3]
             for p in glob.glob(osp.join(repo_root, PREFIX + '*.py'))}
    assert found == set(EXPECTED)


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_config_builds(name, repo_root):
    register_all_modules()
    path = _path(repo_root, name)
    base, dataset_type, metrics, loop = EXPECTED[name]
    assert _depth(path) <= 3
    assert [osp.relpath(b, repo_root) for b in _bases(path)] == [
        'configs/psalm/_base_/test_runtime.py', f'configs/psalm/_base_/datasets/{base}.py']
    assert [osp.relpath(b, repo_root) for b in _bases(_bases(path)[0])] == [
        MODEL, 'configs/psalm/_base_/default_runtime.py']
    cfg = Config.fromfile(path)
    # The released model, untouched: `tools/test.py CONFIG CHECKPOINT` is the whole command.
    # Only DAVIS changes a post-processor (the reference's distinct queries per object).
    model = Config.fromfile(osp.join(repo_root, MODEL)).model
    if name == 'davis-2017':
        assert cfg.model.test_cfg.pop('postprocess') == dict(
            vos=[dict(type='VOSPostProcessor', top_k=10)])
    assert cfg.model == model
    assert cfg.custom_imports.imports == ['psalm']
    loader = cfg.test_dataloader
    assert loader.dataset.type == dataset_type and loader.dataset.test_mode
    assert loader.sampler == dict(type='DefaultSampler', shuffle=False) and not loader.drop_last
    pipeline = [t.type for t in loader.dataset.pipeline]
    assert pipeline[0] == 'LoadImageFromFile' and pipeline[-1] == 'PackPSALMInputs'
    resize = next(t for t in loader.dataset.pipeline if t.type == 'Resize')
    assert tuple(resize.scale) == (1024, 1024) and resize.keep_ratio
    # Ground truth loaded after Resize: it stays at ori_shape, where predictions are scored.
    assert pipeline.index('Resize') < min(i for i, t in enumerate(pipeline) if t.startswith('Load')
                                          and t != 'LoadImageFromFile')
    assert cfg.test_cfg.type == loop
    assert [m.type for m in _metric_cfgs(cfg)] == metrics
    # Evaluators that need no annotation file are built as they are.
    without_files = [m for m in _metric_cfgs(cfg) if 'ann_file' not in m]
    if without_files:
        Evaluator([METRICS.build(m) for m in without_files])
    for m in _metric_cfgs(cfg):
        if 'ann_file' in m:
            assert m.ann_file.startswith('data/')
        if m.type == 'OVSemSegMetric':
            assert m.class_average == 'gt_present'  # the reference's (detectron2) convention
    if name == 'pascal-context-459':
        assert _metric_cfgs(cfg)[0].ignore_index == 65535


def test_every_split_and_protocol_is_reachable(repo_root, tmp_path):
    """The documented --cfg-options reach every split and both sample units."""
    register_all_modules()
    root = tmp_path / 'coco'
    for name, refs in (('refcoco', 'refs(unc).p'), ('refcoco+', 'refs(unc).p'),
                       ('refcocog', 'refs(umd).p')):
        make_toy_refer(str(root), name, refs, num_images=3, seed=0)
    for bench in ('refcoco', 'refcoco-plus', 'refcocog'):
        cfg = Config.fromfile(_path(repo_root, bench))
        ds_cfg = dict(cfg.test_dataloader.dataset, data_root=str(root) + '/')
        per_ref = DATASETS.build(dict(ds_cfg, split='train'))
        per_sentence = DATASETS.build(dict(ds_cfg, split='train', protocol='per_sentence'))
        assert len(per_sentence) == 2 * len(per_ref) > 0  # two sentences per toy ref
        assert per_ref.get_data_info(0)['text'].count('.') == 2  # " s1. s2."
        assert DATASETS.build(ds_cfg).split == 'val'
    make_toy_grefcoco(str(root))
    cfg = Config.fromfile(_path(repo_root, 'grefcoco'))
    ds_cfg = dict(cfg.test_dataloader.dataset, data_root=str(root) + '/')
    per_sentence, per_ref = DATASETS.build(ds_cfg), DATASETS.build(dict(ds_cfg, protocol='per_ref'))
    assert len(per_sentence) == 2 * len(per_ref) == 6
    assert sum(per_ref.get_data_info(i)['no_target'] for i in range(3)) == 1


def test_interactive_pipeline_packs_what_the_metric_reads(repo_root, tmp_path):
    register_all_modules()
    toy = make_toy_interactive(str(tmp_path), 'val', num_images=2, seed=1)
    cfg = Config.fromfile(_path(repo_root, 'coco-interactive'))
    for prompt_type in ('point', 'scribble', 'box', 'mask'):
        ds = DATASETS.build(dict(cfg.test_dataloader.dataset, data_root=str(tmp_path) + '/',
                                 ann_file=toy['ann_file'], data_prefix=dict(img=toy['img_dir']),
                                 prompt_type=prompt_type))
        meta = ds[0]['data_samples'].metainfo
        k = len(meta['region_masks'])
        assert k > 0 and meta['gt_masks'].masks.shape == (k, 64, 80)  # targets at ori_shape
        assert meta['prompt_type'] == [prompt_type] * k
        assert meta['region_masks'].shape == (k, *meta['img_shape'])


# ----------------------------------------------------------------- end to end, tiny model
@pytest.fixture(scope='module')
def checkpoint(repo_root, tmp_path_factory):
    register_all_modules()
    cfg = Config.fromfile(osp.join(repo_root, TINY))
    return save_random_checkpoint(cfg.model, str(tmp_path_factory.mktemp('ckpt') / 'tiny.pth'))


def _test(repo_root, tmp_path, checkpoint, name, options):
    cfg = tiny_eval_config(_path(repo_root, name), osp.join(repo_root, TINY), options)
    cfg.work_dir = str(tmp_path / f'work_{name}')
    cfg.log_level = 'WARNING'
    cfg.load_from = checkpoint
    metrics = Runner.from_cfg(cfg).test()
    assert metrics and all(isinstance(v, float) for v in metrics.values())
    return metrics


def test_coco_panoptic_three_metrics_from_one_run(repo_root, tmp_path, checkpoint):
    root = str(tmp_path / 'coco') + '/'
    toy = make_toy_coco_panoptic(root, 'val', num_images=2, seed=1)
    instances = make_toy_panoptic_instances(root, toy, 'val')
    meta = {k: list(v) for k, v in toy['metainfo'].items()}
    d = 'test_dataloader.dataset.'
    metrics = _test(repo_root, tmp_path, checkpoint, 'coco-panoptic', {
        d + 'data_root': root, d + 'ann_file': toy['ann_file'],
        d + 'data_prefix': dict(img=toy['img_dir'], seg=toy['seg_dir']), d + 'metainfo': meta,
        'test_evaluator.0.ann_file': root + toy['ann_file'],
        'test_evaluator.0.seg_prefix': root + toy['seg_dir'],
        'test_evaluator.1.ann_file': root + instances})
    for key in ('coco_panoptic/PQ', 'coco_panoptic/PQ_th', 'coco_panoptic/PQ_st',
                'coco/segm_mAP', 'sem_seg/mIoU'):
        assert key in metrics and 0.0 <= metrics[key] <= 100.0, key


def test_grefcoco_both_protocols(repo_root, tmp_path, checkpoint):
    root = str(tmp_path / 'coco') + '/'
    make_toy_grefcoco(root)
    metrics = _test(repo_root, tmp_path, checkpoint, 'grefcoco',
                    {'test_dataloader.dataset.data_root': root})
    assert {'gres/gIoU', 'gres/cIoU', 'gres/N_acc', 'gres/T_acc', 'gres/Pr@0.7',
            'gres/psalm_gIoU', 'gres/psalm_cIoU'} <= set(metrics)


def _image(path, seed=0):
    os.makedirs(osp.dirname(path), exist_ok=True)
    cv2.imwrite(str(path), np.random.default_rng(seed).integers(0, 255, (*SIZE, 3), np.uint8))


def _stripes(values, dtype=np.uint8):
    seg = np.zeros(SIZE, dtype)
    for k, chunk in enumerate(np.array_split(np.arange(SIZE[1]), len(values))):
        seg[:, chunk] = values[k]
    return seg


def _semantic_fixture(name, root):
    """One image and its label map in the benchmark's layout; returns the dataset options."""
    if name == 'pascal-context-59':
        _image(root / 'images/validation/2008_000002.jpg')
        os.makedirs(root / 'annotations_ctx59/validation')
        Image.fromarray(_stripes([0, 36, 58, 255])).save(
            root / 'annotations_ctx59/validation/2008_000002.png')
    elif name == 'pascal-context-459':
        _image(root / 'images/validation/2008_000002.jpg')
        os.makedirs(root / 'annotations_ctx459/validation')
        Image.fromarray(_stripes([65535, 0, 255, 458], np.uint16)).save(
            root / 'annotations_ctx459/validation/2008_000002.tif')
    elif name == 'pascal-voc-20':
        _image(root / 'JPEGImages/2007_000033.jpg')
        os.makedirs(root / 'SegmentationClass')
        png = Image.fromarray(_stripes([0, 1, 15, 255, 20]))
        png.putpalette([v for i in range(256) for v in (i, 255 - i, (7 * i) % 256)])
        png.save(root / 'SegmentationClass/2007_000033.png')
        os.makedirs(root / 'ImageSets/Segmentation')
        (root / 'ImageSets/Segmentation/val.txt').write_text('2007_000033\n')
    elif name == 'ade20k-150-semantic':
        _image(root / 'images/validation/ADE_val_00000001.jpg')
        os.makedirs(root / 'annotations/validation')
        Image.fromarray(_stripes([0, 1, 8, 150])).save(
            root / 'annotations/validation/ADE_val_00000001.png')
    elif name == 'cityscapes-semantic':
        stem = 'frankfurt/frankfurt_000000_000294'
        _image(root / f'leftImg8bit/val/{stem}_leftImg8bit.png')
        os.makedirs(root / 'gtFine/val/frankfurt')
        Image.fromarray(_stripes([0, 11, 18, 255])).save(
            root / f'gtFine/val/{stem}_gtFine_labelTrainIds.png')
    return {'test_dataloader.dataset.data_root': str(root) + '/'}


@pytest.mark.parametrize('name', ['pascal-context-59', 'pascal-context-459', 'pascal-voc-20',
                                  'ade20k-150-semantic', 'cityscapes-semantic'])
def test_open_vocab_semantic(name, repo_root, tmp_path, checkpoint):
    options = _semantic_fixture(name, tmp_path / 'data')
    metrics = _test(repo_root, tmp_path, checkpoint, name, options)
    assert set(metrics) == {'sem_seg/aAcc', 'sem_seg/mIoU', 'sem_seg/mAcc'}
    assert 0.0 <= metrics['sem_seg/mIoU'] <= 100.0


def _rle(mask):
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def _coco_json(path, categories, objects, file_name, image_id):
    anns = []
    for k, (cat_id, mask) in enumerate(objects):
        ys, xs = np.nonzero(mask)
        anns.append(dict(id=k + 1, image_id=image_id, category_id=cat_id, iscrowd=0,
                         segmentation=_rle(mask), area=int(mask.sum()),
                         bbox=[int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1,
                               int(np.ptp(ys)) + 1]))
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(dict(images=[dict(id=image_id, file_name=file_name, height=SIZE[0],
                                    width=SIZE[1])], annotations=anns, categories=categories), f)


def _two_boxes():
    a, b = np.zeros(SIZE, bool), np.zeros(SIZE, bool)
    a[5:20, 5:25] = True
    b[22:38, 30:55] = True
    return a, b


def test_cityscapes_instance(repo_root, tmp_path, checkpoint):
    root = tmp_path / 'cityscapes'
    stem = 'frankfurt/frankfurt_000000_000294_leftImg8bit.png'
    _image(root / 'leftImg8bit/val' / stem)
    cats = [dict(id=i, name=n) for i, n in zip([24, 25, 26, 27, 28, 31, 32, 33], [
        'person', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle', 'bicycle'])]
    car, rider = _two_boxes()
    ann = root / 'annotations/instancesonly_filtered_gtFine_val.json'
    _coco_json(ann, cats, [(26, car), (25, rider)], stem, 0)
    metrics = _test(repo_root, tmp_path, checkpoint, 'cityscapes-instance', {
        'test_dataloader.dataset.data_root': str(root) + '/', 'test_evaluator.ann_file': str(ann)})
    assert 0.0 <= metrics['coco/segm_mAP'] <= 1.0


def test_ade20k_150_panoptic_instance_semantic_from_one_run(repo_root, tmp_path, checkpoint):
    """ADE20K converted by mmdet's own ade20k2coco.py (panoptic) plus an instance json as its
    --task instance writes it (semantic ids, instance names)."""
    
    import mmdet
    converter_path = osp.join(osp.dirname(mmdet.__file__),
                              '.mim/tools/dataset_converters/ade20k2coco.py')
    if not osp.isfile(converter_path):
        pytest.skip("mmdet's ade20k2coco.py is not installed with this mmdet")
    converter = import_script(converter_path)
    root = tmp_path / 'ADEChallengeData2016'
    things = ADE20KPanopticDataset.METAINFO['thing_classes']
    ade = load_class_names('ade20k_150')
    bed, person = _two_boxes()
    sem = np.zeros(SIZE, np.uint8)
    sem[:20], sem[20:] = ade.index('wall') + 1, ade.index('floor') + 1
    sem[bed], sem[person] = ade.index('bed') + 1, ade.index('person') + 1
    ins = np.zeros((*SIZE, 3), np.uint8)
    ins[bed], ins[person] = (things.index('bed') + 1, 1, 0), (things.index('person') + 1, 2, 0)
    for split in ('training', 'validation'):
        for folder in ('images', 'annotations', 'annotations_instance'):
            os.makedirs(root / folder / split, exist_ok=True)
    _image(root / 'images/validation/ADE_val_00000001.jpg')
    Image.fromarray(sem).save(root / 'annotations/validation/ADE_val_00000001.png')
    Image.fromarray(ins).save(root / 'annotations_instance/validation/ADE_val_00000001.png')
    converter.prepare_panoptic_annotations(str(root))
    names = ADE20KInstanceDataset.METAINFO['classes']
    _coco_json(root / 'ade20k_instance_val.json', [dict(id=ade.index(n), name=n) for n in names],
               [(ade.index('person'), person), (ade.index('bed'), bed)],
               'ADE_val_00000001.jpg', 'ADE_val_00000001')
    r = str(root) + '/'
    metrics = _test(repo_root, tmp_path, checkpoint, 'ade20k-150', {
        'test_dataloader.dataset.data_root': r,
        'test_evaluator.0.ann_file': r + 'ade20k_panoptic_val.json',
        'test_evaluator.0.seg_prefix': r + 'ade20k_panoptic_val/',
        'test_evaluator.1.ann_file': r + 'ade20k_instance_val.json'})
    for key in ('coco_panoptic/PQ', 'coco/segm_mAP', 'sem_seg/mIoU'):
        assert key in metrics and not math.isnan(metrics[key]), key
