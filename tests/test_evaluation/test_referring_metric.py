"""ReferringSegMetric: cIoU / gIoU with hand-computed values (4 x 4 images)."""
from fractions import Fraction

import pytest
import torch
from _metric_helpers import (assert_same, block, compute, empty, evaluate, mask, rows, sample,
                             two_rank_results)

from mmdet.evaluation.metrics import RefSegMetric
from mmdet.registry import METRICS

from psalm.evaluation.metrics.referring_metric import ReferringSegMetric

# (prediction, target) per sample, one mask each, and their pixel counts:
CASES = [
    # A: target rows 0-1 x cols 0-1 (4 px), prediction rows 0-1 x cols 0-2 (6 px): I 4, U 6
    (block(0, 2, 0, 3), block(0, 2, 0, 2)),
    # B: empty prediction, target row 3 (4 px): I 0, U 4
    (empty(), rows(3)),
    # C: empty prediction and empty target: I 0, U 0 -> the empty-union rule
    (empty(), empty()),
    # D: empty target, prediction row 0 cols 0-1 (2 px): I 0, U 2
    (mask([(0, 0), (0, 1)]), empty()),
]
# cIoU = (4 + 0 + 0 + 0) / (6 + 4 + 0 + 2) = 4 / 12
CIOU = 100 * Fraction(4, 12)
# gIoU, empty union = 1 (PSALM / LISA): (2/3 + 0 + 1 + 0) / 4 = 5 / 12
GIOU_1 = 100 * Fraction(5, 12)
# gIoU, empty union = 0 (mmdet): (2/3 + 0 + 0 + 0) / 4 = 1 / 6
GIOU_0 = 100 * Fraction(1, 6)


def _samples():
    return [sample([p], [g]) for p, g in CASES]


@pytest.mark.parametrize('batch_size', [1, 3, 4])
def test_hand_computed_psalm_rule(batch_size):
    res = evaluate(ReferringSegMetric(), _samples(), batch_size)
    assert res == pytest.approx({'refseg/cIoU': float(CIOU), 'refseg/gIoU': float(GIOU_1)},
                                rel=1e-12)


def test_batch_size_does_not_change_any_bit():
    assert_same(evaluate(ReferringSegMetric(), _samples(), 1),
                evaluate(ReferringSegMetric(), _samples(), 3))


def test_mmdet_rule_matches_mmdet_refseg_metric():
    ours = evaluate(ReferringSegMetric(metric=('cIoU', 'mIoU'), empty_union_iou=0.0,
                                       prefix='x'), _samples(), 2)
    assert ours == pytest.approx({'x/cIoU': float(CIOU), 'x/mIoU': float(GIOU_0)}, rel=1e-12)
    mmdet = evaluate(RefSegMetric(prefix='x'), _samples(), 2)
    assert {k: float(v) for k, v in mmdet.items()} == pytest.approx(ours, rel=1e-6)


def test_one_prediction_is_scored_against_the_union_of_its_targets():
    # targets row 0 and row 3 (8 px together), prediction rows 0-1 (8 px): I 4, U 12
    s = sample([rows(0, 1)], [rows(0), rows(3)])
    assert evaluate(ReferringSegMetric(), [s], 1) == pytest.approx(
        {'refseg/cIoU': 100 / 3, 'refseg/gIoU': 100 / 3})


def test_one_prediction_per_target_is_scored_pairwise():
    # pair 0: row 0 vs row 0 -> I 4, U 4 (IoU 1); pair 1: row 1 vs rows 1-2 -> I 4, U 8 (IoU 1/2)
    # cIoU = 8 / 12, gIoU = (1 + 1/2) / 2
    s = sample([rows(0), rows(1)], [rows(0), rows(1, 2)])
    assert evaluate(ReferringSegMetric(), [s], 1) == pytest.approx(
        {'refseg/cIoU': 200 / 3, 'refseg/gIoU': 75.0})


def test_all_empty_unions_follow_the_rule():
    only_empty = [sample([empty()], [empty()])]
    assert evaluate(ReferringSegMetric(), only_empty, 1) == {'refseg/cIoU': 100.0,
                                                              'refseg/gIoU': 100.0}
    assert evaluate(ReferringSegMetric(empty_union_iou=0), only_empty, 1) == {
        'refseg/cIoU': 0.0, 'refseg/gIoU': 0.0}


def test_two_process_gather_gives_the_same_numbers():
    samples = _samples() + [sample([rows(0)], [rows(0, 1)])]  # 5 samples: rank 1 is padded
    single = compute(ReferringSegMetric, [r for s in samples for r in _records(s)])
    interleaved, concatenated = two_rank_results(ReferringSegMetric, samples)
    assert_same(compute(ReferringSegMetric, interleaved), single)
    assert_same(compute(ReferringSegMetric, concatenated), single)


def _records(s):
    m = ReferringSegMetric()
    m.process(None, [s.to_dict()])
    return m.results


def test_errors_and_registry():
    with pytest.raises(ValueError, match='subset'):
        ReferringSegMetric(metric=('dice', ))
    m = ReferringSegMetric()
    with pytest.raises(ValueError, match='one prediction per target'):
        m.process(None, [sample([rows(0), rows(1)], [rows(0), rows(1), rows(2)]).to_dict()])
    with pytest.raises(ValueError, match='ori_shape'):
        s = sample([rows(0)], [rows(0)])
        s.set_metainfo(dict(ori_shape=(5, 4)))
        m.process(None, [s.to_dict()])
    assert isinstance(METRICS.build(dict(type='ReferringSegMetric')), ReferringSegMetric)


def test_masks_on_any_device_type_and_array_targets():
    # numpy targets instead of BitmapMasks, uint8 predictions: same counts as case A
    s = sample([block(0, 2, 0, 3)], [block(0, 2, 0, 2)])
    s.set_metainfo(dict(gt_masks=block(0, 2, 0, 2)[None]))
    s.pred_instances.masks = s.pred_instances.masks.to(torch.uint8)
    assert evaluate(ReferringSegMetric(), [s], 1)['refseg/gIoU'] == pytest.approx(200 / 3)
