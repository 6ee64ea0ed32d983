"""Open-vocabulary evaluation sets: shipped class lists, datasets built from the base config on tiny
fixtures written in each public format, and the data-preparation tools."""
import copy
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import mmdet
import numpy as np
import pycocotools.mask as mask_util
import pytest
from mmengine.config import Config
from PIL import Image

from mmdet.datasets import ADE20KInstanceDataset, ADE20KPanopticDataset, ADE20KSegDataset
from mmdet.evaluation import SemSegMetric
from mmdet.registry import DATASETS
from mmdet.utils import register_all_modules

import psalm.datasets.open_vocab  # noqa: F401  (registers the datasets)
from psalm.datasets.class_names import CLASS_LISTS, load_class_names
from psalm.utils import import_script

CONFIG = 'configs/psalm/_base_/datasets/open_vocab.py'
SIZE = (40, 60)  # (H, W) of every fixture image; long side 60 -> 1024
RESIZED = (683, 1024)


@pytest.fixture(scope='module')
def cfg(repo_root):
    register_all_modules()
    return Config.fromfile(osp.join(repo_root, CONFIG))


def _build(cfg, name, data_root, **overrides):
    ds_cfg = copy.deepcopy(cfg[name])
    ds_cfg.update(data_root=str(data_root) + '/', **overrides)
    return DATASETS.build(ds_cfg)


def _image(path, size=SIZE, seed=0):
    os.makedirs(osp.dirname(path), exist_ok=True)
    img = np.random.default_rng(seed).integers(0, 255, (*size, 3), dtype=np.uint8)
    cv2.imwrite(str(path), img)


def _png(path, array, palette=False):
    os.makedirs(osp.dirname(path), exist_ok=True)
    img = Image.fromarray(array)
    if palette:  # indexed PNG like the official VOC / DAVIS annotations
        img = img.convert('P')
        img.putpalette([v for i in range(256) for v in (i, 255 - i, (7 * i) % 256)])
    img.save(path)


def _label_map(values, size=SIZE, dtype=np.uint8):
    """Vertical stripes, one per value."""
    seg = np.zeros(size, dtype)
    for k, chunk in enumerate(np.array_split(np.arange(size[1]), len(values))):
        seg[:, chunk] = values[k]
    return seg


def _check_sample(ds, expected_gt, task='semantic'):
    sample = ds[0]['data_samples']
    assert sample.metainfo['img_shape'] == RESIZED
    assert sample.metainfo['ori_shape'] == SIZE
    assert sample.metainfo['task'] == task
    assert sample.metainfo['categories'] == ds.get_data_info(0)['categories']
    gt = sample.gt_sem_seg.sem_seg.numpy()[0]  # loaded after Resize: original size
    np.testing.assert_array_equal(gt, expected_gt)
    return sample


def test_class_lists():
    lengths = dict(ade20k_150=150, ade20k_150_panoptic=150, cityscapes_19=19,
                   pascal_context_59=59, pascal_context_459=459, pascal_voc_20=20)
    assert set(CLASS_LISTS) == set(lengths)
    for name, n in lengths.items():
        names = load_class_names(name)
        assert len(names) == n and len(set(names)) == n and all(names), name
        if CLASS_LISTS[name][1] is not None:
            synonyms = load_class_names(name, synonyms=True)
            assert len(synonyms) == n and 'invalid_class_id' not in synonyms, name
    assert load_class_names('ade20k_150')[:3] == ['wall', 'building', 'sky']
    assert load_class_names('ade20k_150', synonyms=True)[0] == \
        'wall,walls,brick wall,stone wall,interior wall'
    # VOC: fc-clip's 21-class file without its background line.
    assert load_class_names('pascal_voc_20', synonyms=True)[0] == \
        'aeroplane,airplane,aeroplanes,airplanes'
    assert load_class_names('pascal_voc_20', synonyms=True)[-1] == 'tvmonitor,monitor,tv'
    assert load_class_names('pascal_context_459')[-1] == 'wool'
    assert load_class_names('pascal_context_459', synonyms=True)[283].startswith('person,child')
    # The panoptic names are mmdet's ADE20K panoptic classes; the semantic ones mmdet's too.
    assert set(load_class_names('ade20k_150_panoptic')) == \
        set(ADE20KPanopticDataset.METAINFO['classes'])
    assert load_class_names('ade20k_150') == \
        [c.strip() for c in ADE20KSegDataset.METAINFO['classes']]
    with pytest.raises(ValueError, match='no synonym list'):
        load_class_names('cityscapes_19', synonyms=True)
    with pytest.raises(KeyError, match='unknown class list'):
        load_class_names('ade20k_847')
    names = load_class_names('pascal_voc_20')
    names.append('x')  # callers get a copy
    assert len(load_class_names('pascal_voc_20')) == 20


def test_pascal_context_59(cfg, tmp_path):
    root = tmp_path / 'pascal_ctx_d2'
    _image(root / 'images/validation/2008_000002.jpg')
    seg = _label_map([0, 36, 58, 255])
    _png(root / 'annotations_ctx59/validation/2008_000002.png', seg)
    ds = _build(cfg, 'pascal_context_59_val', root)
    assert len(ds) == 1 and len(ds.metainfo['classes']) == 59
    info = ds.get_data_info(0)
    assert info['categories'] == load_class_names('pascal_context_59', synonyms=True)
    assert info['categories'][36].startswith('person,child')  # synonyms kept below 200 classes
    assert info['is_thing'] == [False] * 59
    sample = _check_sample(ds, seg)
    assert sample.gt_sem_seg.metainfo['ignore_index'] == 255
    plain = _build(cfg, 'pascal_context_59_val', root, category_names='plain')
    assert plain.get_data_info(0)['categories'] == load_class_names('pascal_context_59')
    with pytest.raises(ValueError, match='category_names'):
        _build(cfg, 'pascal_context_59_val', root, category_names='wordnet')
    with pytest.raises(ValueError, match='task'):
        _build(cfg, 'pascal_context_59_val', root, task='panoptic')


def test_pascal_context_459_from_mat(cfg, tmp_path, repo_root):
    """.mat LabelMap -> our converter -> 16-bit TIFF -> dataset: 65535 ignored, 255 a class."""
    from scipy.io import savemat
    converter = import_script(
        osp.join(repo_root, 'tools', 'dataset_converters', 'pascal_context_459.py'))

    voc = tmp_path / 'VOCdevkit/VOC2010'
    root = tmp_path / 'pascal_ctx_d2'
    label_map = _label_map([0, 1, 256, 284, 459], dtype=np.uint16)
    os.makedirs(voc / 'trainval')
    savemat(voc / 'trainval/2008_000002.mat', dict(LabelMap=label_map))
    _image(voc / 'JPEGImages/2008_000002.jpg')
    (tmp_path / 'val.txt').write_text('2008_000002\n')
    names = converter.convert(str(voc), str(root), image_list=str(tmp_path / 'val.txt'),
                              copy_images=True)
    assert names == ['2008_000002']
    tif = np.asarray(Image.open(root / 'annotations_ctx459/validation/2008_000002.tif'))
    assert tif.dtype == np.uint16
    expected = _label_map([65535, 0, 255, 283, 458], dtype=np.uint16)
    np.testing.assert_array_equal(tif, expected)
    # Second run: the images are now in images/validation, no list needed.
    assert converter.convert(str(voc), str(root)) == ['2008_000002']

    ds = _build(cfg, 'pascal_context_459_val', root)
    info = ds.get_data_info(0)
    assert len(info['categories']) == 459
    # More than 200 classes: only the first synonym, as the reference.
    assert info['categories'][283] == 'person' and info['categories'][61] == 'computer case'
    assert not any(',' in c for c in info['categories'])
    full = _build(cfg, 'pascal_context_459_val', root, max_synonym_classes=None)
    assert full.get_data_info(0)['categories'][283].startswith('person,child,girl')
    sample = _check_sample(ds, expected)
    assert sample.gt_sem_seg.metainfo['ignore_index'] == 65535
    # mmdet's SemSegMetric scores the uint16 map once told the ignore index: 65535 skipped,
    # 255 a class like any other.
    metric = SemSegMetric()
    metric.dataset_meta = ds.metainfo
    gt = sample.gt_sem_seg.sem_seg
    pred = gt.long()
    pred[0, :, :SIZE[1] // 5] = 7  # the ignored stripe: predicting anything there costs nothing
    metric.process({}, [dict(pred_sem_seg=dict(sem_seg=pred, ignore_index=65535),
                             gt_sem_seg=dict(sem_seg=gt))])
    assert metric.compute_metrics(metric.results)['mIoU'] == 100.0

    with pytest.raises(FileNotFoundError, match='2008_000003.mat'):
        (tmp_path / 'val2.txt').write_text('2008_000003\n')
        converter.convert(str(voc), str(root), image_list=str(tmp_path / 'val2.txt'))


def test_pascal_voc_20_reads_the_official_palette_pngs(cfg, tmp_path):
    root = tmp_path / 'VOCdevkit/VOC2012'
    for name in ('2007_000033', '2007_000042'):
        _image(root / f'JPEGImages/{name}.jpg')
        _png(root / f'SegmentationClass/{name}.png', _label_map([0, 1, 15, 255, 20]),
             palette=True)
    os.makedirs(root / 'ImageSets/Segmentation')
    (root / 'ImageSets/Segmentation/val.txt').write_text('2007_000033\n')  # one of the two
    ds = _build(cfg, 'pascal_voc_20_val', root)
    assert len(ds) == 1
    info = ds.get_data_info(0)
    assert info['is_thing'] == [True] * 20
    assert info['categories'][14].startswith('person,child')
    # Background and the 255 boundary are ignored; classes shift to 0..19.
    _check_sample(ds, _label_map([255, 0, 14, 255, 19]))


def test_ade20k_semantic(cfg, tmp_path):
    root = tmp_path / 'ADEChallengeData2016'
    _image(root / 'images/validation/ADE_val_00000001.jpg')
    _png(root / 'annotations/validation/ADE_val_00000001.png', _label_map([0, 1, 8, 150]))
    ds = _build(cfg, 'ade20k_150_semantic_val', root)
    info = ds.get_data_info(0)
    assert info['categories'] == load_class_names('ade20k_150', synonyms=True)
    assert sum(info['is_thing']) == 100
    assert info['is_thing'][7] and not info['is_thing'][0]  # bed, wall
    _check_sample(ds, _label_map([255, 0, 7, 149]))


def test_cityscapes_semantic(cfg, tmp_path):
    root = tmp_path / 'cityscapes'
    stem = 'frankfurt/frankfurt_000000_000294'
    _image(root / f'leftImg8bit/val/{stem}_leftImg8bit.png')
    seg = _label_map([0, 11, 18, 255])
    _png(root / f'gtFine/val/{stem}_gtFine_labelTrainIds.png', seg)
    _png(root / f'gtFine/val/{stem}_gtFine_labelIds.png', seg + 1)  # other gtFine maps: unused
    ds = _build(cfg, 'cityscapes_val', root)
    assert len(ds) == 1
    info = ds.get_data_info(0)
    assert info['categories'] == load_class_names('cityscapes_19')  # plain: no synonym list
    assert info['is_thing'] == [False] * 11 + [True] * 8
    _check_sample(ds, seg)
    with pytest.raises(ValueError, match='no synonym list'):
        _build(cfg, 'cityscapes_val', root, category_names='synonyms')


def _rle(mask):
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def _write_coco(path, categories, objects, image_name, image_id):
    annotations = []
    for k, (cat_id, mask) in enumerate(objects):
        ys, xs = np.nonzero(mask)
        annotations.append(dict(
            id=k + 1, image_id=image_id, category_id=cat_id, iscrowd=0, segmentation=_rle(mask),
            area=int(mask.sum()), bbox=[int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1,
                                        int(np.ptp(ys)) + 1]))
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(dict(images=[dict(id=image_id, file_name=image_name, height=SIZE[0],
                                    width=SIZE[1])],
                       annotations=annotations, categories=categories), f)


def _boxes():
    a, b = np.zeros(SIZE, bool), np.zeros(SIZE, bool)
    a[5:20, 5:25] = True
    b[22:38, 30:55] = True
    return a, b


def test_ade20k_instance(cfg, tmp_path):
    """COCO json as mmdet's ade20k2coco.py --task instance writes it: string image ids, the 100
    instance categories with their 0-based ADE semantic ids. The categories are listed in reverse:
    labels follow the json's order (mmdet's cat_ids), and so must the category names."""
    root = tmp_path / 'ADEChallengeData2016'
    _image(root / 'images/validation/ADE_val_00000001.jpg')
    ade = load_class_names('ade20k_150')
    names = ADE20KInstanceDataset.METAINFO['classes'][::-1]
    categories = [dict(id=ade.index(n), name=n) for n in names]
    bed, person = _boxes()
    _write_coco(root / 'ade20k_instance_val.json', categories,
                [(ade.index('person'), person), (ade.index('bed'), bed)],
                'ADE_val_00000001.jpg', 'ADE_val_00000001')
    ds = _build(cfg, 'ade20k_150_instance_val', root)
    info = ds.get_data_info(0)
    synonyms = load_class_names('ade20k_150', synonyms=True)
    assert info['task'] == 'instance'
    assert info['categories'] == [synonyms[ade.index(n)] for n in names]
    assert info['is_thing'] == [True] * 100
    sample = ds[0]['data_samples']
    assert sample.metainfo['img_shape'] == RESIZED
    labels = sample.gt_instances.labels.tolist()
    assert [info['categories'][i].split(',')[0] for i in labels] == ['person', 'bed']
    masks = sample.gt_instances.masks.masks  # after Resize: original size
    np.testing.assert_array_equal(masks[0], person)
    np.testing.assert_array_equal(masks[1], bed)


def test_cityscapes_instance(cfg, tmp_path):
    root = tmp_path / 'cityscapes'
    stem = 'frankfurt/frankfurt_000000_000294_leftImg8bit.png'
    _image(root / 'leftImg8bit/val' / stem)
    # mmdet's cityscapes.py: cityscapesscripts label ids, names as the 19-class list.
    cats = [dict(id=i, name=n) for i, n in zip([24, 25, 26, 27, 28, 31, 32, 33], [
        'person', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle', 'bicycle'])]
    car, rider = _boxes()
    _write_coco(root / 'annotations/instancesonly_filtered_gtFine_val.json', cats,
                [(26, car), (25, rider)], stem, 0)
    ds = _build(cfg, 'cityscapes_instance_val', root)
    info = ds.get_data_info(0)
    assert info['categories'] == ['person', 'rider', 'car', 'truck', 'bus', 'train',
                                  'motorcycle', 'bicycle']
    assert info['is_thing'] == [True] * 8
    labels = ds[0]['data_samples'].gt_instances.labels.tolist()
    assert [info['categories'][i] for i in labels] == ['car', 'rider']


def _ade_panoptic_fixture(root):
    """ADEChallengeData2016 semantic + instance PNGs of one validation image, converted by mmdet's
    own ade20k2coco.py (the format PSALMADE20KPanopticDataset reads)."""
    path = osp.join(osp.dirname(mmdet.__file__),
                    '.mim/tools/dataset_converters/ade20k2coco.py')
    if not osp.isfile(path):
        pytest.skip("mmdet's ade20k2coco.py is not installed with this mmdet")
    converter = import_script(path)

    things = ADE20KPanopticDataset.METAINFO['thing_classes']
    ade = load_class_names('ade20k_150')
    bed, person = _boxes()
    sem = np.zeros(SIZE, np.uint8)
    sem[:20] = ade.index('wall') + 1
    sem[20:] = ade.index('floor') + 1  # full width: x = 0, the box bug makes a 0-wide thing
    sem[bed], sem[person] = ade.index('bed') + 1, ade.index('person') + 1
    ins = np.zeros((*SIZE, 3), np.uint8)
    ins[bed] = (things.index('bed') + 1, 1, 0)  # R: instance category (1-based), G: instance id
    ins[person] = (things.index('person') + 1, 2, 0)
    for split in ('training', 'validation'):
        os.makedirs(root / f'images/{split}', exist_ok=True)
        os.makedirs(root / f'annotations/{split}', exist_ok=True)
        os.makedirs(root / f'annotations_instance/{split}', exist_ok=True)
    _image(root / 'images/validation/ADE_val_00000001.jpg')
    _png(root / 'annotations/validation/ADE_val_00000001.png', sem)
    _png(root / 'annotations_instance/validation/ADE_val_00000001.png', ins)
    converter.prepare_panoptic_annotations(str(root))
    return dict(wall=sem == ade.index('wall') + 1, floor=sem == ade.index('floor') + 1,
                bed=bed, person=person)


def test_ade20k_panoptic(cfg, tmp_path):
    root = tmp_path / 'ADEChallengeData2016'
    regions = _ade_panoptic_fixture(root)
    seg_info = json.loads((root / 'ade20k_panoptic_val.json').read_text())
    widths = [s['bbox'][2] for s in seg_info['annotations'][0]['segments_info']]
    assert 0 in widths  # the converter's thing-box bug the dataset must survive

    ds_cfg = copy.deepcopy(cfg.ade20k_150_panoptic_val)
    ds_cfg.update(data_root=str(root) + '/', pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(1024, 1024), keep_ratio=True),
        dict(type='LoadPanopticSegments', with_bbox=False, with_mask=True, with_seg=True),
        dict(type='PackPSALMInputs', meta_keys=('segments_info', ))])
    ds = DATASETS.build(ds_cfg)
    info = ds.get_data_info(0)
    classes = ADE20KPanopticDataset.METAINFO['classes']  # things first, mmdet's label order
    panoptic_names = load_class_names('ade20k_150_panoptic')
    synonyms = load_class_names('ade20k_150', synonyms=True)
    assert info['task'] == 'panoptic'
    assert info['categories'] == [synonyms[panoptic_names.index(c)] for c in classes]
    assert info['is_thing'] == [True] * 100 + [False] * 50
    assert len(info['instances']) == 4 and len(info['segments_info']) == 4  # none dropped

    sample = ds[0]['data_samples']
    assert sample.metainfo['img_shape'] == RESIZED and sample.metainfo['task'] == 'panoptic'
    labels = sample.gt_instances.labels.tolist()
    masks = sample.gt_instances.masks.masks
    for label, mask in zip(labels, masks):
        name = info['categories'][label].split(',')[0]
        np.testing.assert_array_equal(mask, regions[name], err_msg=name)
    assert sorted(info['categories'][i].split(',')[0] for i in labels) == \
        ['bed', 'floor', 'person', 'wall']
    sem = sample.gt_sem_seg.sem_seg.numpy()[0]
    assert (sem[regions['person']] == classes.index('person')).all()

    # Without the workaround mmdet's parser drops the thing whose box has width 0.
    plain_mmdet = ADE20KPanopticDataset(
        data_root=str(root) + '/', ann_file='ade20k_panoptic_val.json',
        data_prefix=dict(img='images/validation/', seg='ade20k_panoptic_val/'))
    assert len(plain_mmdet.get_data_info(0)['segments_info']) == 3
    # Other tasks on the same annotations.
    assert DATASETS.build(dict(ds_cfg, task='semantic')).get_data_info(0)['task'] == 'semantic'


def test_prepare_open_vocab_reports_what_is_missing(tmp_path, repo_root):
    tool = osp.join(repo_root, 'tools/dataset_converters/prepare_open_vocab.py')
    voc = tmp_path / 'VOCdevkit/VOC2012'
    _image(voc / 'JPEGImages/a.jpg')
    _png(voc / 'SegmentationClass/a.png', _label_map([0, 1]), palette=True)
    os.makedirs(voc / 'ImageSets/Segmentation')
    (voc / 'ImageSets/Segmentation/val.txt').write_text('a\n')
    ctx = tmp_path / 'pascal_ctx_d2'
    _image(ctx / 'images/validation/b.jpg')
    _image(ctx / 'images/validation/c.jpg')
    _png(ctx / 'annotations_ctx59/validation/b.png', _label_map([0, 1]))

    def run(*names):
        return subprocess.run([sys.executable, tool, '--data-root', str(tmp_path), '--dataset',
                               *names], capture_output=True, text=True)

    ok = run('pascal_voc')
    assert ok.returncode == 0 and 'pascal_voc: complete' in ok.stdout
    bad = run('pascal_context', 'ade20k')
    assert bad.returncode == 1
    assert 'annotations_ctx59/validation/: no map for 1 image(s)' in bad.stdout
    assert 'c.png' in bad.stdout and 'annotations_ctx459/validation/' in bad.stdout
    assert 'ADEChallengeData2016/ade20k_panoptic_val.json' in bad.stdout
