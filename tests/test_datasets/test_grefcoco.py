"""gRefCOCO for the gres task: single-, multi- and no-target expressions from grefs(unc).json
(or a pickle of it), both protocols, the pipeline, the base config and bad input."""
import json
import os
import os.path as osp
import pickle

import cv2
import numpy as np
import pycocotools.mask as mask_util
import pytest
from mmengine.config import Config

from mmdet.registry import DATASETS
from mmdet.utils import register_all_modules

from psalm.datasets.grefcoco import GRefCocoDataset

IMAGES = [(1, 48, 64), (2, 64, 32)]  # (id, height, width)
ANNS = {  # annotation id -> (image id, polygon)
    11: (1, [4, 4, 20, 4, 20, 28, 4, 28]),
    12: (1, [40, 10, 60, 40, 30, 40]),
    21: (2, [2, 2, 30, 2, 30, 20, 2, 20]),
}
# (ref id, image id, ann_id as stored, split, sentences)
GREFS = [
    (0, 1, [11], 'train', ['left box', 'tall rectangle']),  # single target
    (1, 1, [11, 12], 'train', ['all shapes']),  # multi-target
    (2, 1, [-1], 'train', ['the dog', 'a red car']),  # no target
    (3, 2, [], 'val', ['nothing here']),  # no target, empty list
    (4, 2, [21], 'val', ['top box']),
    (5, 2, 21, 'testA', ['the box']),  # a bare id, as some exports store single targets
]
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _file_name(img_id):
    return f'COCO_train2014_{img_id:012d}.jpg'


def _make_grefs():
    grefs, sent_id = [], 0
    for ref_id, img_id, ann_id, split, sents in GREFS:
        sentences = []
        for s in sents:
            sentences.append(dict(tokens=s.split(), raw=s, sent_id=sent_id, sent=s))
            sent_id += 1
        ids = ann_id if isinstance(ann_id, list) else [ann_id]
        grefs.append(dict(sent_ids=[s['sent_id'] for s in sentences], file_name=_file_name(img_id),
                          ann_id=ann_id, ref_id=ref_id, image_id=img_id, split=split,
                          sentences=sentences, category_id=[1] * len([i for i in ids if i > 0]),
                          no_target=-1 in ids or not ids))
    return grefs


def write_grefcoco(root, refs_file='grefs(unc).json', grefs=None, as_pickle=False):
    """``<root>/train2014/*.jpg``, ``<root>/grefcoco/instances.json`` and the grefs."""
    os.makedirs(osp.join(root, 'train2014'), exist_ok=True)
    os.makedirs(osp.join(root, 'grefcoco'), exist_ok=True)
    rng = np.random.default_rng(0)
    images = []
    for img_id, h, w in IMAGES:
        cv2.imwrite(osp.join(root, 'train2014', _file_name(img_id)),
                    rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
        images.append(dict(id=img_id, file_name=_file_name(img_id), height=h, width=w))
    annotations = []
    for ann_id, (img_id, poly) in ANNS.items():
        xs, ys = poly[0::2], poly[1::2]
        annotations.append(dict(id=ann_id, image_id=img_id, category_id=1, iscrowd=0, area=1.0,
                                segmentation=[[float(v) for v in poly]],
                                bbox=[min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]))
    with open(osp.join(root, 'grefcoco', 'instances.json'), 'w') as f:
        json.dump(dict(images=images, annotations=annotations,
                       categories=[dict(id=1, name='thing', supercategory='thing')]), f)
    grefs = _make_grefs() if grefs is None else grefs
    path = osp.join(root, 'grefcoco', refs_file)
    if as_pickle:
        with open(path, 'wb') as f:
            pickle.dump(grefs, f, protocol=2)
    else:
        with open(path, 'w') as f:
            json.dump(grefs, f)
    return grefs


def _pipeline():
    return [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        dict(type='Resize', scale=(1024, 1024), keep_ratio=True),
        dict(type='PackPSALMInputs', meta_keys=('no_target', )),
    ]


def _dataset(root, split='train', refs_file='grefs(unc).json', **kwargs):
    kwargs.setdefault('pipeline', _pipeline())
    return GRefCocoDataset(data_root=str(root), ann_file='grefcoco/instances.json',
                           split_file=f'grefcoco/{refs_file}', split=split,
                           data_prefix=dict(img_path='train2014/'), **kwargs)


def _decode(ann_id):
    img_id, poly = ANNS[ann_id]
    _, h, w = IMAGES[img_id - 1]
    return mask_util.decode(mask_util.merge(mask_util.frPyObjects([poly], h, w))).astype(bool)


def test_per_sentence_single_multi_and_no_target(tmp_path):
    register_all_modules()
    write_grefcoco(str(tmp_path))
    ds = _dataset(tmp_path)
    assert len(ds) == 5  # one sample per sentence: 2 + 1 + 2
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert [i['text'] for i in infos] == [' left box.', ' tall rectangle.', ' all shapes.',
                                          ' the dog.', ' a red car.']
    assert [i['ref_id'] for i in infos] == [0, 0, 1, 2, 2]
    assert [i['sent_id'] for i in infos] == [0, 1, 2, 3, 4]
    assert [len(i['instances']) for i in infos] == [1, 1, 2, 0, 0]
    assert [i['no_target'] for i in infos] == [False, False, False, True, True]
    assert all(i['task'] == 'gres' for i in infos)
    assert infos[2]['instances'][1] == dict(mask=[[40.0, 10.0, 60.0, 40.0, 30.0, 40.0]],
                                            bbox=[30, 10, 60, 40], bbox_label=0, ignore_flag=0)

    single, multi, none = ds[0]['data_samples'], ds[2]['data_samples'], ds[3]['data_samples']
    for sample in (single, multi, none):
        assert sample.metainfo['img_shape'] == (768, 1024)
        assert sample.metainfo['task'] == 'gres'
    assert single.gt_instances.masks.to_ndarray().shape == (1, 768, 1024)
    assert multi.gt_instances.masks.to_ndarray().shape == (2, 768, 1024)
    assert multi.metainfo['text'] == ' all shapes.' and not multi.metainfo['no_target']
    areas = multi.gt_instances.masks.to_ndarray().sum((1, 2)) / 256  # x16 per side
    np.testing.assert_allclose(areas, [_decode(11).sum(), _decode(12).sum()], rtol=0.1)
    assert none.metainfo['no_target'] is True
    assert none.gt_instances.masks.to_ndarray().shape == (0, 768, 1024)
    assert none.gt_instances.bboxes.tensor.shape == (0, 4)

    val = _dataset(tmp_path, split='val')
    assert [val.get_data_info(i)['no_target'] for i in range(2)] == [True, False]  # [] and [21]
    assert val[0]['data_samples'].metainfo['img_shape'] == (1024, 512)
    test_a = _dataset(tmp_path, split='testA')
    assert len(test_a.get_data_info(0)['instances']) == 1  # bare id


def test_per_ref_protocol_joins_sentences(tmp_path):
    register_all_modules()
    write_grefcoco(str(tmp_path))
    ds = _dataset(tmp_path, protocol='per_ref', pipeline=[])
    assert len(ds) == 3
    assert [ds.get_data_info(i)['text'] for i in range(3)] == \
        [' left box. tall rectangle.', ' all shapes.', ' the dog. a red car.']
    assert [len(ds.get_data_info(i)['instances']) for i in range(3)] == [1, 2, 0]


def test_pickle_refs_are_read_by_content(tmp_path):
    """The reference pickle.load()s grefs(unc).json: a pickle under that name must load too
    (safely), and give the same samples as the JSON."""
    register_all_modules()
    write_grefcoco(str(tmp_path))
    write_grefcoco(str(tmp_path), 'pickled.json', as_pickle=True)
    write_grefcoco(str(tmp_path), 'grefs(unc).p', as_pickle=True)
    ref = _dataset(tmp_path, pipeline=[])
    expected = [ref.get_data_info(i) for i in range(len(ref))]
    for name in ('pickled.json', 'grefs(unc).p'):
        ds = _dataset(tmp_path, refs_file=name, pipeline=[])
        assert [ds.get_data_info(i) for i in range(len(ds))] == expected

    class Exploit:
        def __reduce__(self):
            return os.getcwd, ()

    (tmp_path / 'grefcoco' / 'evil.json').write_bytes(pickle.dumps([Exploit()], protocol=2))
    with pytest.raises(ValueError, match=r'evil\.json: cannot read the refs as pickle: refusing'):
        _dataset(tmp_path, refs_file='evil.json')


def test_base_config_pipelines(tmp_path):
    register_all_modules()
    write_grefcoco(str(tmp_path))
    cfg = Config.fromfile(osp.join(REPO, 'configs/psalm/_base_/datasets/grefcoco.py'))
    cfg.grefcoco_train.data_root = str(tmp_path)
    train = DATASETS.build(cfg.grefcoco_train)
    assert len(train) == 5
    assert train[3]['data_samples'].metainfo['no_target'] is True

    cfg.grefcoco_val.data_root = str(tmp_path)
    val = DATASETS.build(cfg.grefcoco_val)
    assert len(val) == 2
    none, single = val[0]['data_samples'], val[1]['data_samples']
    assert none.metainfo['img_shape'] == (1024, 512)
    # evaluation masks at the original size in the metainfo: none for a no-target expression
    assert none.metainfo['no_target'] is True and none.metainfo['ref_id'] == 3
    assert none.metainfo['gt_masks'].to_ndarray().shape == (0, 64, 32)
    np.testing.assert_array_equal(single.metainfo['gt_masks'].to_ndarray(), _decode(21)[None])
    assert single.metainfo['sent_id'] == 6
    assert 'val_evaluator' not in cfg  # mmdet has no mask-level gRES metric


def test_bad_input_names_file_and_field(tmp_path):
    register_all_modules()
    grefs = _make_grefs()
    grefs[1]['ann_id'] = [11, 99]
    write_grefcoco(str(tmp_path), grefs=grefs)
    with pytest.raises(ValueError, match=r'grefs\(unc\)\.json: ref #1 \(ref_id 1\) field '
                       r'"ann_id" = 99 is not an annotation of .*grefcoco/instances\.json'):
        _dataset(tmp_path)

    grefs = _make_grefs()
    grefs[0]['ann_id'] = ['11']
    write_grefcoco(str(tmp_path), grefs=grefs)
    with pytest.raises(ValueError, match='field "ann_id" must be an id or a list of ids'):
        _dataset(tmp_path)

    grefs = _make_grefs()
    del grefs[2]['ann_id']
    write_grefcoco(str(tmp_path), grefs=grefs)
    with pytest.raises(ValueError, match=r"ref #2 \(ref_id 2\) has no field 'ann_id'"):
        _dataset(tmp_path)

    grefs = _make_grefs()
    grefs[0]['sentences'] = []
    write_grefcoco(str(tmp_path), grefs=grefs)
    with pytest.raises(ValueError, match='field "sentences" must be a non-empty list'):
        _dataset(tmp_path)

    write_grefcoco(str(tmp_path))
    (tmp_path / 'grefcoco' / 'grefs(unc).json').write_text('{"refs": []}')
    with pytest.raises(ValueError, match=r'grefs\(unc\)\.json: expected a list of ref dicts'):
        _dataset(tmp_path)
