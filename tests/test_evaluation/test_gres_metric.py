"""GRESMetric: ReLA's gIoU / cIoU / N-acc / T-acc / Pr@X and PSALM's gIoU / cIoU, hand-computed
on 4 x 4 images."""
import math
from fractions import Fraction as Fr

import pytest
import torch
from _metric_helpers import (assert_same, block, compute, empty, evaluate, mask, rows, sample,
                             two_rank_results)

from mmdet.registry import METRICS

from psalm.evaluation.metrics.gres_metric import GRESMetric
from psalm.models import GRESPostProcessor


def _samples():
    return [
        # S1 targeted, two targets (row 0 cols 0-1; row 3 cols 2-3: union 4 px), prediction row 0
        #    (4 px), no NT: TN. I 2, U 4 + 2 = 6, IoU 1/3
        sample([rows(0)], [mask([(0, 0), (0, 1)]), mask([(3, 2), (3, 3)])],
               pred_no_target=False, no_target=False),
        # S2 targeted (rows 0-1, 8 px), prediction rows 0-1 x cols 0-2 (6 px) but NT predicted:
        #    FP. ReLA: I := 0, U 8, IoU 0. PSALM (mask as is): I 6, U 8
        sample([block(0, 2, 0, 3)], [rows(0, 1)], pred_no_target=True, no_target=False),
        # S3 no-target (0 GT masks), empty prediction, NT predicted: TP. ReLA IoU 1, adds
        #    nothing. PSALM: I 0, U 0 -> IoU 1
        sample([empty()], [], pred_no_target=True, no_target=True),
        # S4 no-target (flag absent: inferred from the empty target), prediction row 2 cols 0-2
        #    (3 px), no NT: FN. ReLA IoU 0, adds U 3. PSALM: I 0, U 3 -> 0
        sample([mask([(2, 0), (2, 1), (2, 2)])], [], pred_no_target=False),
        # S5 no-target, non-empty prediction (the top-1 fallback, 2 px) with NT predicted: TP
        #    (the flag decides). ReLA IoU 1, adds nothing. PSALM: I 0, U 2 -> 0
        sample([mask([(1, 1), (1, 2)])], [], pred_no_target=True, no_target=True),
        # S6 targeted, target col 0 (4 px), prediction col 0 + (0, 1) (5 px): TN. I 4, U 5,
        #    IoU 4/5
        sample([block(0, 4, 0, 1) | mask([(0, 1)])], [block(0, 4, 0, 1)], pred_no_target=False,
               no_target=False),
    ]


# TP 2 (S3, S5), FN 1 (S4), FP 1 (S2), TN 2 (S1, S6)
# ReLA IoUs: 1/3, 0, 1, 0, 1, 4/5 -> gIoU = (2 + 1/3 + 4/5) / 6 = 47/90
# ReLA ΣI = 2 + 0 + 4 = 6; ΣU = 6 (S1) + 8 (S2) + 3 (S4) + 5 (S6) = 22 -> cIoU 6/22
# N-acc = 2 / 3; T-acc = 2 / 3
# Pr@X over the targeted S1, S2, S6 (IoU 1/3, 0, 4/5): @0.7 1/3, @0.8 1/3 (4/5 >= 0.8), @0.9 0
# PSALM (I, U): (2, 6) (6, 8) (0, 0) (0, 3) (0, 2) (4, 5)
#   cIoU = 12 / 24; gIoU = (1/3 + 3/4 + 1 + 0 + 0 + 4/5) / 6 = (173/60) / 6 = 173/360
EXPECTED = {
    'gres/gIoU': float(100 * Fr(47, 90)),
    'gres/cIoU': float(100 * Fr(6, 22)),
    'gres/N_acc': float(100 * Fr(2, 3)),
    'gres/T_acc': float(100 * Fr(2, 3)),
    'gres/Pr@0.7': float(100 * Fr(1, 3)),
    'gres/Pr@0.8': float(100 * Fr(1, 3)),
    'gres/Pr@0.9': 0.0,
    'gres/psalm_gIoU': float(100 * Fr(173, 360)),
    'gres/psalm_cIoU': 50.0,
}


@pytest.mark.parametrize('batch_size', [1, 4, 6])
def test_hand_computed(batch_size):
    res = evaluate(GRESMetric(), _samples(), batch_size)
    assert res == pytest.approx(EXPECTED, rel=1e-12)


def test_batch_size_and_two_process_gather_give_identical_numbers():
    single = evaluate(GRESMetric(prefix='g'), _samples(), 1)
    assert_same(single, evaluate(GRESMetric(prefix='g'), _samples(), 4))
    # 7 samples: rank 1 gets a padded duplicate that the merge must drop
    samples = _samples() + [sample([rows(1)], [rows(1)], pred_no_target=False)]
    single = evaluate(GRESMetric(prefix='g'), samples, 3)
    unprefixed = {k[2:]: v for k, v in single.items()}
    interleaved, concatenated = two_rank_results(GRESMetric, samples)
    assert_same(compute(GRESMetric, interleaved), unprefixed)
    assert_same(compute(GRESMetric, concatenated), unprefixed)


def test_no_target_flag_not_the_mask_decides_on_no_target_samples():
    # empty GT, empty predicted mask, but no NT flag: ReLA FN, IoU 0 (U 0 adds nothing);
    # PSALM's mask-only rule gives IoU 1
    res = compute(GRESMetric, _process([sample([empty()], [], pred_no_target=False)]))
    assert res['gIoU'] == 0.0 and res['N_acc'] == 0.0 and res['psalm_gIoU'] == 100.0
    assert math.isnan(res['cIoU']) and math.isnan(res['psalm_cIoU'])  # ΣU = 0
    assert math.isnan(res['T_acc']) and math.isnan(res['Pr@0.7'])  # no targeted sample


def test_targeted_only_split_has_no_n_acc():
    # ReLA prints N-acc = T-acc = 0 here; T-acc is defined (1 TN), N-acc is not
    res = compute(GRESMetric, _process([sample([rows(0)], [rows(0)], pred_no_target=False)]))
    assert res['T_acc'] == 100.0 and math.isnan(res['N_acc'])
    assert res['gIoU'] == res['cIoU'] == res['psalm_gIoU'] == 100.0


def test_metainfo_flag_overrides_the_target_masks():
    # A sample flagged no-target is one even if a (stray) target mask is present: TP with NT
    s = sample([empty()], [rows(0)], pred_no_target=True, no_target=torch.tensor([True]))
    res = compute(GRESMetric, _process([s]))
    assert res['N_acc'] == 100.0 and res['gIoU'] == 100.0


def _process(samples):
    m = GRESMetric()
    m.process(None, [s.to_dict() for s in samples])
    return m.results


def test_errors_and_registry():
    with pytest.raises(KeyError, match='no-target decision'):
        _process([sample([rows(0)], [rows(0)])])
    with pytest.raises(ValueError, match='one flag'):
        d = sample([rows(0)], [rows(0)]).to_dict()
        d['pred_instances']['no_target'] = torch.tensor([True, False])
        GRESMetric().process(None, [d])
    assert isinstance(METRICS.build(dict(type='GRESMetric')), GRESMetric)


def test_reads_what_gres_post_processor_writes():
    # two queries: +20 logits on row 0 / row 1; sentence logits -4 / -5, so no query passes 0.6:
    # the reference's top-1 fallback keeps row 0 and the explicit decision is "no target"
    logits = torch.full((2, 4, 4), -20.0)
    logits[0, 0], logits[1, 1] = 20.0, 20.0
    s = sample([], [], no_target=True)
    GRESPostProcessor()(logits, torch.tensor([[-4.0], [-5.0]]), s)
    assert s.pred_instances.masks[0].sum() == 4
    assert s.pred_instances.target_score[0] == pytest.approx(torch.sigmoid(torch.tensor(-4.0)))
    # ReLA: TP (IoU 1, ΣU 0); PSALM: I 0, U 4 -> IoU 0
    res = compute(GRESMetric, _process([s]))
    assert res['N_acc'] == 100.0 and res['gIoU'] == 100.0
    assert res['psalm_gIoU'] == 0.0 and res['psalm_cIoU'] == 0.0


def _scored_samples():
    # target_score per sample; the flags of _samples() are those of threshold 0.6
    samples = _samples()
    for s, score in zip(samples, (0.9, 0.5, 0.3, 0.7, 0.4, 0.8)):
        s.pred_instances.target_score = torch.tensor([score])
    return samples


def test_no_target_threshold_sweep_hand_computed():
    res = evaluate(GRESMetric(no_target_thrs=(0.45, 0.6, 0.75, 0.85)), _scored_samples(), 4)
    # the model's own threshold reproduces its flags
    for key in ('gIoU', 'cIoU', 'N_acc', 'T_acc'):
        assert res[f'gres/{key}@0.6'] == res[f'gres/{key}']
    # 0.45: only S3, S5 flagged. S2 becomes TN (I 6, U 8): IoUs 1/3, 3/4, 1, 0, 1, 4/5;
    #       ΣI 2 + 6 + 4, ΣU 6 + 8 + 3 + 5; N-acc 2/3, T-acc 3/3
    # 0.75: S2, S3, S4, S5 flagged: IoUs 1/3, 0, 1, 1, 1, 4/5; ΣI 2 + 4, ΣU 6 + 8 + 5;
    #       N-acc 3/3, T-acc 2/3
    # 0.85: S6 flagged too: N-acc 3/3, T-acc 1/3
    assert res['gres/gIoU@0.45'] == pytest.approx(float(100 * Fr(233, 360)))
    assert res['gres/cIoU@0.45'] == pytest.approx(float(100 * Fr(12, 22)))
    assert (res['gres/N_acc@0.45'], res['gres/T_acc@0.45']) == pytest.approx((200 / 3, 100))
    assert res['gres/gIoU@0.75'] == pytest.approx(float(100 * Fr(31, 45)))
    assert res['gres/cIoU@0.75'] == pytest.approx(float(100 * Fr(6, 19)))
    assert (res['gres/N_acc@0.75'], res['gres/T_acc@0.75']) == pytest.approx((100, 200 / 3))
    assert (res['gres/N_acc@0.85'], res['gres/T_acc@0.85']) == pytest.approx((100, 100 / 3))
    # balanced accuracy: 83.3 at 0.45 and 0.75 (the first wins), 66.7 at 0.6 and 0.85
    assert res['gres/no_target_thr_balanced'] == 0.45
    # without a sweep, no sweep keys and no score needed
    assert not any('@0.6' in k or 'balanced' in k for k in evaluate(GRESMetric(), _samples(), 2))


def test_sweep_needs_the_target_score():
    with pytest.raises(KeyError, match='target_score'):
        GRESMetric(no_target_thrs=(0.6, )).process(None, [s.to_dict() for s in _samples()])
