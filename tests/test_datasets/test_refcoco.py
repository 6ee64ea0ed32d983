"""RefCOCO/+/g for the referring task: refer-toolkit files (instances.json + refs pickle or JSON),
both protocols, the pipeline, the base config, the pickle-to-JSON converter and bad input."""
import json
import os
import os.path as osp
import pickle
import random

import cv2
import numpy as np
import pycocotools.mask as mask_util
import pytest
from mmengine.config import Config
from mmengine.dataset import ConcatDataset

from mmdet.registry import DATASETS
from mmdet.utils import register_all_modules

from psalm.datasets.refcoco import PSALMRefCocoDataset, join_sentences, load_refs
from psalm.utils import import_script

# (id, height, width); two sizes so that both resize directions are exercised.
IMAGES = [(1, 48, 64), (2, 64, 32)]
# annotation id -> (image id, polygon)
ANNS = {
    11: (1, [4, 4, 20, 4, 20, 28, 4, 28]),
    12: (1, [40, 10, 60, 40, 30, 40]),
    21: (2, [2, 2, 30, 2, 30, 20, 2, 20]),
    22: (2, [5, 30, 25, 30, 25, 60, 5, 60]),
}
# (ref id, annotation id, split, sentences)
REFS = [
    (0, 11, 'train', ['left box', 'the tall rectangle']),
    (1, 12, 'train', ['triangle']),
    (2, 21, 'val', ['top box', 'upper one', 'box on top']),
    (3, 22, 'testA', ['bottom box']),
    (4, 12, 'testB', ['pointy thing', 'triangle on the right']),
    (5, 22, 'test', ['lower box']),
]
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _file_name(img_id):
    return f'COCO_train2014_{img_id:012d}.jpg'


def _make_refs():
    refs, sent_id = [], 0
    for ref_id, ann_id, split, sents in REFS:
        sentences = []
        for s in sents:
            # 'raw' as typed by annotators, 'sent' lower-cased and tokenised (the toolkit's form)
            sentences.append(dict(tokens=s.split(), raw=s.capitalize() + '.', sent_id=sent_id,
                                  sent=s))
            sent_id += 1
        refs.append(dict(sent_ids=[s['sent_id'] for s in sentences],
                         file_name=f'COCO_train2014_{ANNS[ann_id][0]:012d}_{ann_id}.jpg',
                         ann_id=ann_id, ref_id=ref_id, image_id=ANNS[ann_id][0], split=split,
                         sentences=sentences, category_id=1))
    return refs


def write_refer(root, name='refcoco', refs_file='refs(unc).p', refs=None, anns=None):
    """Write ``<root>/train2014/*.jpg``, ``<root>/<name>/instances.json`` and the refs, in the
    refer toolkit's format (refs pickled with protocol 2, as the public Python 2 release)."""
    os.makedirs(osp.join(root, 'train2014'), exist_ok=True)
    os.makedirs(osp.join(root, name), exist_ok=True)
    rng = np.random.default_rng(0)
    images = []
    for img_id, h, w in IMAGES:
        cv2.imwrite(osp.join(root, 'train2014', _file_name(img_id)),
                    rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
        images.append(dict(id=img_id, file_name=_file_name(img_id), height=h, width=w))
    annotations = []
    for ann_id, (img_id, poly) in (anns or ANNS).items():
        xs, ys = poly[0::2], poly[1::2]
        annotations.append(dict(id=ann_id, image_id=img_id, category_id=1, iscrowd=0,
                                segmentation=[[float(v) for v in poly]], area=100.0,
                                bbox=[min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]))
    with open(osp.join(root, name, 'instances.json'), 'w') as f:
        json.dump(dict(images=images, annotations=annotations,
                       categories=[dict(id=1, name='thing', supercategory='thing')]), f)
    refs = _make_refs() if refs is None else refs
    path = osp.join(root, name, refs_file)
    if refs_file.endswith('.json'):
        with open(path, 'w') as f:
            json.dump(refs, f)
    else:
        with open(path, 'wb') as f:
            pickle.dump(refs, f, protocol=2)
    return refs


def _pipeline(eval_mode=False):
    load = dict(type='LoadAnnotations', with_bbox=True, with_mask=True)
    resize = dict(type='Resize', scale=(1024, 1024), keep_ratio=True)
    if eval_mode:
        return [dict(type='LoadImageFromFile'), resize, load,
                dict(type='PackPSALMInputs', meta_keys=('gt_masks', ))]
    return [dict(type='LoadImageFromFile'), load, resize, dict(type='PackPSALMInputs')]


def _dataset(root, split='train', refs_file='refs(unc).p', **kwargs):
    kwargs.setdefault('pipeline', _pipeline())
    return PSALMRefCocoDataset(data_root=str(root), ann_file='refcoco/instances.json',
                               split_file=f'refcoco/{refs_file}', split=split,
                               data_prefix=dict(img_path='train2014/'), **kwargs)


def _decode(ann_id):
    img_id, poly = ANNS[ann_id]
    _, h, w = IMAGES[img_id - 1]
    return mask_util.decode(mask_util.merge(mask_util.frPyObjects([poly], h, w))).astype(bool)


def test_per_ref_samples_through_the_pipeline(tmp_path):
    register_all_modules()
    write_refer(str(tmp_path))
    ds = _dataset(tmp_path)
    assert len(ds) == 2  # two train refs

    info = ds.get_data_info(0)
    assert info['text'] == ' left box. the tall rectangle.'  # the reference's ' {}.' join
    assert info['sentences'] == ['left box', 'the tall rectangle']
    assert info['task'] == 'referring' and info['ref_id'] == 0 and 'sent_id' not in info
    assert info['img_id'] == 1 and (info['height'], info['width']) == (48, 64)
    assert info['img_path'] == osp.join(str(tmp_path), 'train2014', _file_name(1))
    assert info['instances'] == [dict(mask=[[4.0, 4.0, 20.0, 4.0, 20.0, 28.0, 4.0, 28.0]],
                                      bbox=[4, 4, 20, 28], bbox_label=0, ignore_flag=0)]

    sample = ds[0]['data_samples']
    assert sample.metainfo['text'] == info['text']
    assert sample.metainfo['task'] == 'referring'
    assert sample.metainfo['ori_shape'] == (48, 64)
    assert sample.metainfo['img_shape'] == (768, 1024)  # long side to 1024, ratio kept
    assert ds[0]['inputs'].shape == (3, 768, 1024)
    masks = sample.gt_instances.masks.to_ndarray()
    assert masks.shape == (1, 768, 1024)
    # x16 in each direction: the area grows by 256, the box by 16
    assert abs(masks.sum() / 256 - _decode(11).sum()) / _decode(11).sum() < 0.1
    np.testing.assert_allclose(sample.gt_instances.bboxes.tensor.numpy(),
                               [[64, 64, 320, 448]])
    assert sample.gt_instances.labels.tolist() == [0]

    # portrait image: height is the long side
    val = _dataset(tmp_path, split='val')
    assert val[0]['data_samples'].metainfo['img_shape'] == (1024, 512)
    assert val.get_data_info(0)['text'] == ' top box. upper one. box on top.'


def test_per_sentence_protocol(tmp_path):
    register_all_modules()
    write_refer(str(tmp_path))
    ds = _dataset(tmp_path, protocol='per_sentence')
    assert len(ds) == 3  # 2 + 1 sentences in the two train refs
    infos = [ds.get_data_info(i) for i in range(3)]
    assert [i['text'] for i in infos] == [' left box.', ' the tall rectangle.', ' triangle.']
    assert [i['ref_id'] for i in infos] == [0, 0, 1]
    assert [i['sent_id'] for i in infos] == [0, 1, 2]
    assert infos[0]['instances'] == infos[1]['instances']
    assert len(_dataset(tmp_path, split='val', protocol='per_sentence')) == 3
    assert len(_dataset(tmp_path, split='testB', protocol='per_sentence')) == 2

    raw = _dataset(tmp_path, protocol='per_sentence', sentence_key='raw')
    assert raw.get_data_info(0)['text'] == ' Left box..'  # 'raw' is used as given


def test_sample_sentence_draws_per_access(tmp_path):
    register_all_modules()
    write_refer(str(tmp_path))
    ds = _dataset(tmp_path, sample_sentence=True, pipeline=[])
    random.seed(0)
    texts = {ds.get_data_info(0)['text'] for _ in range(40)}
    assert texts == {' left box.', ' the tall rectangle.'}
    assert ds.get_data_info(1)['text'] == ' triangle.'
    with pytest.raises(ValueError, match='sample_sentence needs protocol="per_ref"'):
        _dataset(tmp_path, protocol='per_sentence', sample_sentence=True)
    with pytest.raises(ValueError, match='protocol must be one of'):
        _dataset(tmp_path, protocol='per_image')


def test_json_refs_equal_pickle_refs(tmp_path):
    register_all_modules()
    refs = write_refer(str(tmp_path))
    write_refer(str(tmp_path), refs_file='refs(unc).json')
    assert load_refs(str(tmp_path / 'refcoco' / 'refs(unc).p')) == refs
    assert load_refs(str(tmp_path / 'refcoco' / 'refs(unc).json')) == refs
    for protocol in ('per_ref', 'per_sentence'):
        from_pkl = _dataset(tmp_path, protocol=protocol, pipeline=[])
        from_json = _dataset(tmp_path, refs_file='refs(unc).json', protocol=protocol, pipeline=[])
        assert [from_pkl.get_data_info(i) for i in range(len(from_pkl))] == \
            [from_json.get_data_info(i) for i in range(len(from_json))]


class _Exploit:
    """Pickles as a call of ``fn(*args)``: what a tampered refs file would do."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


@pytest.mark.parametrize('payload', [_Exploit(os.getcwd), _Exploit(eval, '1 + 1'),
                                     _Exploit(getattr, 'x', 'upper')])
def test_pickle_globals_are_refused(tmp_path, payload):
    path = tmp_path / 'refs(unc).p'
    refs = _make_refs()
    refs[0]['sentences'][0]['sent'] = payload
    for protocol in (0, 2, pickle.HIGHEST_PROTOCOL):
        path.write_bytes(pickle.dumps(refs, protocol=protocol))
        with pytest.raises(ValueError, match=r'refs\(unc\)\.p.*refusing to load global'):
            load_refs(str(path))
    # builtin value types a refs list may legitimately hold still load
    path.write_bytes(pickle.dumps([dict(a={1, 2}, b=frozenset([3]), c=(1, 2.5))], protocol=2))
    assert load_refs(str(path)) == [dict(a={1, 2}, b=frozenset([3]), c=(1, 2.5))]


def _load_converter():
    return import_script(osp.join(REPO, 'tools', 'dataset_converters', 'refer_pickle_to_json.py'))


def test_converter_round_trip(tmp_path, capsys):
    register_all_modules()
    converter = _load_converter()
    refs = write_refer(str(tmp_path))
    src = str(tmp_path / 'refcoco' / 'refs(unc).p')
    converter.main([src])
    dst = str(tmp_path / 'refcoco' / 'refs(unc).json')
    assert 'refs(unc).json' in capsys.readouterr().out
    with open(dst) as f:
        assert json.load(f) == refs
    assert sorted(os.listdir(tmp_path / 'refcoco')) == \
        ['instances.json', 'refs(unc).json', 'refs(unc).p']  # no temporary file left
    assert [_dataset(tmp_path, refs_file=n, pipeline=[]).get_data_info(0)
            for n in ('refs(unc).p', 'refs(unc).json')][0]['text'] == \
        ' left box. the tall rectangle.'

    with pytest.raises(FileExistsError, match='--overwrite'):
        converter.main([src])
    converter.main([src, '--overwrite'])

    # data JSON cannot hold unchanged (a tuple) is refused, and nothing is written
    bad = tmp_path / 'bad.p'
    bad.write_bytes(pickle.dumps([dict(ref_id=0, box=(1, 2))], protocol=2))
    with pytest.raises(ValueError, match='JSON round trip'):
        converter.convert(str(bad))
    assert not (tmp_path / 'bad.json').exists()
    # an unsafe pickle fails before any output exists
    evil = tmp_path / 'evil.p'
    evil.write_bytes(pickle.dumps([_Exploit(os.getcwd)], protocol=2))
    with pytest.raises(ValueError, match='refusing'):
        converter.main([str(evil), str(tmp_path / 'evil.json')])
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ['bad.p', 'evil.p']


def test_base_config_pipelines(tmp_path):
    """The base config's loaders, pointed at a fixture laid out as the config expects."""
    register_all_modules()
    write_refer(str(tmp_path), 'refcoco')
    write_refer(str(tmp_path), 'refcoco+')
    write_refer(str(tmp_path), 'refcocog', 'refs(umd).p')
    cfg = Config.fromfile(osp.join(REPO, 'configs/psalm/_base_/datasets/refcoco.py'))

    train_cfg = cfg.referring_train
    for d in train_cfg.datasets:
        d.data_root = str(tmp_path)
    train = DATASETS.build(train_cfg)
    assert isinstance(train, ConcatDataset) and len(train) == 3 * 2
    assert train[5]['data_samples'].metainfo['text'] == ' triangle.'
    assert train[5]['data_samples'].gt_instances.masks.to_ndarray().shape == (1, 768, 1024)

    val_cfg = cfg.refcoco_val
    val_cfg.data_root = str(tmp_path)
    val = DATASETS.build(val_cfg)
    assert len(val) == 1
    sample = val[0]['data_samples']
    assert sample.metainfo['img_shape'] == (1024, 512)
    assert sample.metainfo['text'] == ' top box. upper one. box on top.'
    assert sample.metainfo['ref_id'] == 2
    # evaluation masks stay at the original size, in the metainfo and in gt_instances
    np.testing.assert_array_equal(sample.metainfo['gt_masks'].to_ndarray(), _decode(21)[None])
    assert sample.gt_instances.masks.to_ndarray().shape == (1, 64, 32)

    val_cfg.update(ann_file='refcocog/instances.json', split_file='refcocog/refs(umd).p',
                   split='test', protocol='per_sentence')
    assert DATASETS.build(val_cfg).get_data_info(0)['text'] == ' lower box.'


def test_bad_input_names_file_and_field(tmp_path):
    register_all_modules()
    write_refer(str(tmp_path))
    refs_path = str(tmp_path / 'refcoco' / 'refs(unc).p')

    refs = _make_refs()
    refs[1]['ann_id'] = 999
    write_refer(str(tmp_path), refs=refs)
    with pytest.raises(ValueError, match=r'refs\(unc\)\.p: ref #1 \(ref_id 1\) field "ann_id" = '
                       r'999 is not an annotation of .*instances\.json'):
        _dataset(tmp_path)

    refs = _make_refs()
    del refs[0]['sentences']
    write_refer(str(tmp_path), refs=refs)
    with pytest.raises(ValueError, match=r"refs\(unc\)\.p: ref #0 \(ref_id 0\) has no field "
                       r"'sentences'"):
        _dataset(tmp_path)

    refs = _make_refs()
    del refs[0]['sentences'][1]['sent']
    write_refer(str(tmp_path), refs=refs)
    with pytest.raises(ValueError, match=r"sentences\[1\] has no field 'sent'"):
        _dataset(tmp_path)

    refs = _make_refs()
    refs[0]['image_id'] = 7
    write_refer(str(tmp_path), refs=refs)
    with pytest.raises(ValueError, match='field "image_id" = 7 is not an image of'):
        _dataset(tmp_path)

    refs = _make_refs()
    refs[0]['ann_id'] = 21  # an annotation of image 2, the ref says image 1
    write_refer(str(tmp_path), refs=refs)
    with pytest.raises(ValueError, match='points to annotation 21 of image 2'):
        _dataset(tmp_path)

    refs = _make_refs()
    refs[0]['ann_id'] = [11, 12]
    write_refer(str(tmp_path), refs=refs)
    with pytest.raises(ValueError, match='must be one annotation id.*GRefCocoDataset'):
        _dataset(tmp_path)

    write_refer(str(tmp_path))
    with pytest.raises(ValueError, match=r"no ref in split 'testC'; splits present: \['test', "
                       r"'testA', 'testB', 'train', 'val'\]"):
        _dataset(tmp_path, split='testC')
    with pytest.raises(ValueError, match='data_prefix needs the key "img_path"'):
        PSALMRefCocoDataset(data_root=str(tmp_path), ann_file='refcoco/instances.json',
                            split_file='refcoco/refs(unc).p', data_prefix=dict(img='train2014/'))

    with open(tmp_path / 'refcoco' / 'instances.json', 'w') as f:
        json.dump(dict(images=[]), f)
    with pytest.raises(ValueError, match=r"instances\.json: the file has no field 'annotations'"):
        _dataset(tmp_path)

    (tmp_path / 'refcoco' / 'refs.txt').write_text('[]')
    with pytest.raises(ValueError, match=r"refs\.txt: cannot tell the refs format"):
        load_refs(str(tmp_path / 'refcoco' / 'refs.txt'))
    (tmp_path / 'refcoco' / 'broken.json').write_text('[{"ref_id": 0,')
    with pytest.raises(ValueError, match=r'broken\.json: cannot read the refs as JSON'):
        load_refs(str(tmp_path / 'refcoco' / 'broken.json'))
    with open(refs_path, 'wb') as f:
        pickle.dump(dict(refs=[]), f, protocol=2)
    with pytest.raises(ValueError, match=r'refs\(unc\)\.p: expected a list of ref dicts'):
        load_refs(refs_path)


def test_join_sentences():
    assert join_sentences(['a man', 'the left guy']) == ' a man. the left guy.'
    assert join_sentences(['x']) == ' x.'
