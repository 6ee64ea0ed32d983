"""OVSemSegMetric: mIoU under both class-averaging conventions, hand-computed (3 classes)."""
import math

import pytest
import torch
from _metric_helpers import assert_same, compute, evaluate, two_rank_results
from mmengine.structures import PixelData

from mmdet.evaluation.metrics import SemSegMetric
from mmdet.registry import METRICS
from mmdet.structures import DetDataSample

from psalm.evaluation.metrics.semantic_metric import OVSemSegMetric

META = dict(classes=('a', 'b', 'c'))
I = 255  # ignored ground truth


def seg_sample(pred, gt, dtype=torch.long):
    s = DetDataSample()
    s.pred_sem_seg = PixelData(sem_seg=torch.tensor(pred)[None])
    s.gt_sem_seg = PixelData(sem_seg=torch.tensor(gt, dtype=dtype)[None])
    return s


def _samples():
    return [
        # valid pixels 6 (2 ignored; the prediction 2 there is not counted):
        #   GT a 2, b 4; predicted a 1, b 5; TP a 1, b 4
        seg_sample([[0, 1, 1, 1], [2, 2, 1, 1]], [[0, 0, 1, 1], [I, I, 1, 1]]),
        # GT a 4, b 4; predicted a 2, c 2 (class c is absent from every GT), b 4; TP a 2, b 4
        seg_sample([[0, 0, 2, 2], [1, 1, 1, 1]], [[0, 0, 0, 0], [1, 1, 1, 1]]),
    ]


# totals: TP [3, 8, 0], GT [6, 8, 0], predicted [3, 9, 2] -> union [6, 9, 2]
# IoU [1/2, 8/9, 0]; Acc [1/2, 1, -]
# gt_present (detectron2): classes a, b -> (1/2 + 8/9) / 2 = 25/36
# gt_or_pred_present (mmseg / mmdet): a, b, c -> (1/2 + 8/9 + 0) / 3 = 25/54
# aAcc = 11 / 14 (pixel accuracy); mAcc = (1/2 + 1) / 2 = 3/4
AACC, MACC = 100 * 11 / 14, 75.0


@pytest.mark.parametrize('batch_size', [1, 2])
def test_hand_computed_both_conventions(batch_size):
    res = evaluate(OVSemSegMetric(), _samples(), batch_size, META)
    assert res == pytest.approx({'sem_seg/aAcc': AACC, 'sem_seg/mIoU': 100 * 25 / 36,
                                 'sem_seg/mAcc': MACC}, rel=1e-12)
    res = evaluate(OVSemSegMetric(class_average='gt_or_pred_present'), _samples(), batch_size,
                   META)
    assert res == pytest.approx({'sem_seg/aAcc': AACC, 'sem_seg/mIoU': 100 * 25 / 54,
                                 'sem_seg/mAcc': MACC}, rel=1e-12)


def test_mmdet_convention_matches_mmdet_semseg_metric():
    mmdet = evaluate(SemSegMetric(prefix='s'), _samples(), 2, META)
    ours = evaluate(OVSemSegMetric(class_average='gt_or_pred_present', prefix='s'), _samples(), 2,
                    META)
    assert mmdet['s/mIoU'] == round(ours['s/mIoU'], 2)  # mmdet rounds to 2 decimals
    # mmdet 3.3's "aAcc" is the mean class accuracy (= mAcc), not pixel accuracy
    assert mmdet['s/aAcc'] == mmdet['s/mAcc'] == 75.0 != round(ours['s/aAcc'], 2)


def test_batch_size_and_two_process_gather_give_identical_numbers():
    samples = _samples() + [seg_sample([[1, 1, 1, 1], [0, 0, 0, 0]],
                                       [[1, 1, 0, 0], [0, 0, 0, 2]])]
    single = evaluate(OVSemSegMetric(prefix='s'), samples, 1, META)
    assert_same(single, evaluate(OVSemSegMetric(prefix='s'), samples, 3, META))
    unprefixed = {k[2:]: v for k, v in single.items()}
    interleaved, concatenated = two_rank_results(OVSemSegMetric, samples, dataset_meta=META)
    assert_same(compute(OVSemSegMetric, interleaved, META), unprefixed)
    assert_same(compute(OVSemSegMetric, concatenated, META), unprefixed)


def test_ignore_index_65535_and_out_of_range_labels():
    big = 65535
    # GT a a / b ignored; prediction a, 3 (no such class: a miss for class a), b on the ignored
    # pixel. Valid: 2 pixels of a, TP a 1 -> IoU a = 1 / (2 + 1 - 1) = 1/2, aAcc 1/2
    s = seg_sample([[0, 3], [1, 1]], [[0, 0], [big, big]], dtype=torch.int32)
    res = evaluate(OVSemSegMetric(ignore_index=big, prefix='s'), [s], 1, META)
    assert res == pytest.approx({'s/aAcc': 50.0, 's/mIoU': 50.0, 's/mAcc': 50.0})
    # the same ground truth read with the default ignore index 255: 65535 is not a class
    with pytest.raises(ValueError, match='ignore_index'):
        evaluate(OVSemSegMetric(), [s], 1, META)


def test_no_valid_pixel_gives_nan_and_options_are_checked():
    all_ignored = seg_sample([[0, 1], [2, 0]], [[I, I], [I, I]])
    res = evaluate(OVSemSegMetric(prefix='s'), [all_ignored], 1, META)
    assert all(math.isnan(v) for v in res.values())
    with pytest.raises(ValueError, match='class_average'):
        OVSemSegMetric(class_average='mean')
    assert isinstance(METRICS.build(dict(type='OVSemSegMetric')), OVSemSegMetric)
