"""InteractiveSegMetric: per-prompt-type mIoU / cIoU over regions, hand-computed (4 x 4)."""
import pytest
import torch
from _metric_helpers import (assert_same, block, compute, empty, evaluate, rows, sample,
                             two_rank_results)

from mmdet.registry import METRICS

from psalm.evaluation.metrics.interactive_metric import InteractiveSegMetric
from psalm.models import InteractivePostProcessor


def _samples():
    return [
        # point: region 0 target rows 0-1 x cols 0-1 (4 px), predicted exactly: I 4, U 4 -> 1
        #        region 1 target row 3 (4 px), predicted row 3 cols 0-1: I 2, U 4 -> 1/2
        sample([block(0, 2, 0, 2), block(3, 4, 0, 2)], [block(0, 2, 0, 2), rows(3)],
               prompt_type='point'),
        # box: region 0 target col 0 (4 px), predicted cols 0-1 (8 px): I 4, U 8 -> 1/2
        #      region 1 target row 3, empty prediction: I 0, U 4 -> 0
        sample([block(0, 4, 0, 2), empty()], [block(0, 4, 0, 1), rows(3)],
               prompt_type='box'),
        # point (reference's name): masks come in the order region 1, region 0 (labels [1, 0])
        #      region 0 target: whole image (16 px), predicted rows 0-1: I 8, U 16 -> 1/2
        #      region 1 target: empty, predicted empty: U 0 -> 1 (empty-union rule)
        sample([empty(), rows(0, 1)], [rows(0, 1, 2, 3), empty()], labels=[1, 0],
               prompt_type='point_visual_prompt_mask'),
    ]


# point regions (I, U): (4, 4) (2, 4) (8, 16) (0, 0) -> IoU 1, 1/2, 1/2, 1
#   mIoU = 3 / 4 = 75; cIoU = 14 / 24
# box regions: (4, 8) (0, 4) -> IoU 1/2, 0: mIoU 25; cIoU = 4 / 12
# all six regions: mIoU = 3.5 / 6; cIoU = 18 / 36 = 50
EXPECTED = {
    'interactive/point_mIoU': 75.0,
    'interactive/point_cIoU': 100 * 14 / 24,
    'interactive/box_mIoU': 25.0,
    'interactive/box_cIoU': 100 * 4 / 12,
    'interactive/mIoU': 100 * 3.5 / 6,
    'interactive/cIoU': 50.0,
}


@pytest.mark.parametrize('batch_size', [1, 2, 3])
def test_hand_computed(batch_size):
    res = evaluate(InteractiveSegMetric(), _samples(), batch_size)
    assert res == pytest.approx(EXPECTED, rel=1e-12)
    # fixed key order: prompt types in their canonical order, then the overall numbers
    assert list(res) == ['interactive/point_mIoU', 'interactive/point_cIoU',
                         'interactive/box_mIoU', 'interactive/box_cIoU', 'interactive/mIoU',
                         'interactive/cIoU']


def test_batch_size_and_two_process_gather_give_identical_numbers():
    single = evaluate(InteractiveSegMetric(prefix='p'), _samples(), 1)
    assert_same(single, evaluate(InteractiveSegMetric(prefix='p'), _samples(), 2))
    interleaved, concatenated = two_rank_results(InteractiveSegMetric, _samples(), batch_size=1)
    unprefixed = {k[2:]: v for k, v in single.items()}
    assert_same(compute(InteractiveSegMetric, interleaved), unprefixed)
    assert_same(compute(InteractiveSegMetric, concatenated), unprefixed)


def test_types_per_region_from_visual_prompts_and_default():
    # region 0 (scribble): row 0 vs row 0 -> 1; region 1 (mask): rows 1-2 vs row 1 -> I 4, U 8
    s = sample([rows(0), rows(1, 2)], [rows(0), rows(1)],
               visual_prompts=[dict(type='scribble', mask=None), dict(type='mask', mask=None)])
    res = evaluate(InteractiveSegMetric(prefix='p'), [s], 1)
    assert res == pytest.approx({'p/scribble_mIoU': 100.0, 'p/scribble_cIoU': 100.0,
                                 'p/mask_mIoU': 50.0, 'p/mask_cIoU': 50.0,
                                 'p/mIoU': 75.0, 'p/cIoU': 100 * 8 / 12})
    # no type in the metainfo: the default applies
    s = sample([rows(0)], [rows(0, 1)])
    assert evaluate(InteractiveSegMetric(default_prompt_type='box', prefix='p'), [s], 1) == \
        pytest.approx({'p/box_mIoU': 50.0, 'p/box_cIoU': 50.0, 'p/mIoU': 50.0, 'p/cIoU': 50.0})


def test_region_without_prediction_and_empty_union_rule():
    # 2 regions, 1 prediction (for region 1): region 0 target row 0 -> I 0, U 4 -> 0;
    # region 1: both empty -> empty_union_iou = 0 here. mIoU 0, cIoU 0 / 4
    s = sample([empty()], [rows(0), empty()], labels=[1], prompt_type='point')
    res = evaluate(InteractiveSegMetric(empty_union_iou=0.0, prefix='p'), [s], 1)
    assert res['p/point_mIoU'] == 0.0 and res['p/cIoU'] == 0.0
    # with PSALM's rule region 1 scores 1: mIoU (0 + 1) / 2
    assert evaluate(InteractiveSegMetric(prefix='p'), [s], 1)['p/mIoU'] == 50.0


def test_errors_and_registry():
    m = InteractiveSegMetric()
    with pytest.raises(KeyError, match='default_prompt_type'):
        m.process(None, [sample([rows(0)], [rows(0)]).to_dict()])
    with pytest.raises(ValueError, match='unknown prompt type'):
        m.process(None, [sample([rows(0)], [rows(0)], prompt_type='polygon').to_dict()])
    with pytest.raises(ValueError, match='2 prompt types for 1 regions'):
        m.process(None, [sample([rows(0)], [rows(0)], prompt_type=['box', 'box']).to_dict()])
    with pytest.raises(ValueError, match='one mask per region'):
        m.process(None, [sample([rows(0), rows(1)], [rows(0), rows(1)], labels=[0, 0],
                                prompt_type='box').to_dict()])
    assert not m.results
    assert isinstance(METRICS.build(dict(type='InteractiveSegMetric')), InteractiveSegMetric)


def test_reads_what_interactive_post_processor_writes():
    # 3 queries (rows 0, 1, 2), 2 regions: region 0 prefers query 2, region 1 query 0
    logits = torch.full((3, 4, 4), -20.0)
    logits[0, 0], logits[1, 1], logits[2, 2] = 20.0, 20.0, 20.0
    region_logits = torch.tensor([[-5.0, 5.0], [-5.0, -5.0], [5.0, -5.0]])
    s = sample([], [rows(2), rows(0, 1)], prompt_type='mask')
    InteractivePostProcessor()(logits, region_logits, s)
    # region 0: row 2 vs row 2 -> I 4, U 4; region 1: row 0 vs rows 0-1 -> I 4, U 8
    res = evaluate(InteractiveSegMetric(prefix='p'), [s], 1)
    assert res == pytest.approx({'p/mask_mIoU': 75.0, 'p/mask_cIoU': 100 * 8 / 12,
                                 'p/mIoU': 75.0, 'p/cIoU': 100 * 8 / 12})
