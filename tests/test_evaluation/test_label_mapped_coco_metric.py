"""LabelMappedCocoMetric: labels matched to the annotation file's categories by name, in label
order, hand-checked on one image with two objects (ADE20K: panoptic labels, instance json)."""
import json

import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch
from mmengine.structures import InstanceData

from mmdet.datasets import ADE20KInstanceDataset, ADE20KPanopticDataset
from mmdet.registry import METRICS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import mask2bbox

from psalm.datasets.class_names import load_class_names
from psalm.evaluation.metrics import LabelMappedCocoMetric

H, W = 40, 60


def _boxes():
    a, b = np.zeros((H, W), bool), np.zeros((H, W), bool)
    a[5:20, 5:25] = True
    b[22:38, 30:55] = True
    return a, b


def _rle(mask):
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def _json(path, categories, objects, image_id):
    anns = []
    for k, (cat_id, m) in enumerate(objects):
        ys, xs = np.nonzero(m)
        anns.append(dict(id=k + 1, image_id=image_id, category_id=cat_id, iscrowd=0,
                         segmentation=_rle(m), area=int(m.sum()),
                         bbox=[int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1,
                               int(np.ptp(ys)) + 1]))
    path.write_text(json.dumps(dict(
        images=[dict(id=image_id, file_name='x.jpg', height=H, width=W)], annotations=anns,
        categories=categories)))
    return str(path)


def _pred(image_id, masks, labels, scores):
    s = DetDataSample(metainfo=dict(img_id=image_id, ori_shape=(H, W)))
    m = torch.from_numpy(np.stack(masks))
    s.pred_instances = InstanceData(masks=m, bboxes=mask2bbox(m), labels=torch.tensor(labels),
                                    scores=torch.tensor(scores))
    return s.to_dict()


@pytest.fixture
def ade(tmp_path):
    """mmdet's ade20k2coco.py --task instance: category id = ADE semantic index, instance names
    ('windowpane', ...), listed here in reverse so that file order is not label order."""
    ade = load_class_names('ade20k_150')
    names = ADE20KInstanceDataset.METAINFO['classes'][::-1]
    bed, person = _boxes()
    path = _json(tmp_path / 'ade20k_instance_val.json',
                 [dict(id=ade.index(n), name=n) for n in names],
                 [(ade.index('person'), person), (ade.index('bed'), bed)], 'ADE_val_00000001')
    classes = ADE20KPanopticDataset.METAINFO['classes']  # panoptic labels: 100 things first
    return path, classes, dict(person=person, bed=bed)


def _evaluate(metric, meta, samples):
    metric.dataset_meta = meta
    metric.process({}, samples)
    return metric.compute_metrics(metric.results)


def test_panoptic_labels_scored_on_the_instance_json(ade):
    path, classes, masks = ade
    meta = ADE20KPanopticDataset.METAINFO
    person, bed = classes.index('person'), classes.index('bed')
    make = lambda: LabelMappedCocoMetric(  # noqa: E731
        ann_file=path, metric=['segm'], name_lists=('ade20k_150_panoptic', 'ade20k_150'))
    # Both objects found with their own labels: AP 1 for both categories.
    right = _pred('ADE_val_00000001', [masks['person'], masks['bed']], [person, bed], [0.9, 0.8])
    assert _evaluate(make(), meta, [right])['segm_mAP'] == 1.0
    # Labels swapped: no true positive in either category, AP 0.
    swapped = _pred('ADE_val_00000001', [masks['person'], masks['bed']], [bed, person],
                    [0.9, 0.8])
    assert _evaluate(make(), meta, [swapped])['segm_mAP'] == 0.0
    # The mapping: every thing label, in label order, to its semantic id; 'window' (panoptic
    # name) -> 'windowpane' (instance json name).
    metric = make()
    metric.dataset_meta = meta
    ids = metric.label_cat_ids()
    ade_names = load_class_names('ade20k_150')
    assert len(ids) == 100
    assert ids[classes.index('window')] == ade_names.index('windowpane')
    assert ids[person] == ade_names.index('person')
    # A stuff label has no category in the instance file.
    wall = _pred('ADE_val_00000001', [masks['person']], [classes.index('wall')], [0.9])
    with pytest.raises(ValueError, match='no category'):
        _evaluate(make(), meta, [wall])


def test_without_name_lists_labels_follow_class_order_not_file_order(tmp_path):
    a, b = _boxes()
    # The file lists 'b' first, with the larger id: mmdet's get_cat_ids would map label 0 to 7.
    path = _json(tmp_path / 'x.json', [dict(id=7, name='b'), dict(id=3, name='a')],
                 [(3, a), (7, b)], 1)
    meta = dict(classes=('a', 'b'))
    metric = LabelMappedCocoMetric(ann_file=path, metric=['segm'])
    metric.dataset_meta = meta
    assert metric.label_cat_ids() == [3, 7]
    res = _evaluate(LabelMappedCocoMetric(ann_file=path, metric=['segm']), meta,
                    [_pred(1, [a, b], [0, 1], [0.9, 0.8])])
    assert res['segm_mAP'] == 1.0


def test_errors_and_registry(tmp_path, ade):
    path, _, _ = ade
    assert METRICS.get('LabelMappedCocoMetric') is LabelMappedCocoMetric
    with pytest.raises(ValueError, match='ann_file'):
        LabelMappedCocoMetric(metric=['segm'])
    with pytest.raises(ValueError, match='from_list, to_list'):
        LabelMappedCocoMetric(ann_file=path, name_lists=('ade20k_150', ))
    metric = LabelMappedCocoMetric(ann_file=path, name_lists=('ade20k_150_panoptic', 'ade20k_150'))
    metric.dataset_meta = dict(classes=('person', 'not an ADE class'))
    with pytest.raises(ValueError, match='not an ADE class'):
        metric.label_cat_ids()
    # A label without a category before one with a category: cannot be indexed by label.
    metric = LabelMappedCocoMetric(ann_file=path, name_lists=('ade20k_150_panoptic', 'ade20k_150'))
    metric.dataset_meta = dict(classes=('wall', 'person'))
    with pytest.raises(ValueError, match='0..n-1'):
        metric.label_cat_ids()
