"""Generalised referring expression segmentation (gRefCOCO): ReLA's metrics and PSALM's."""
from typing import Dict, List, Optional, Sequence

from mmengine.evaluator import BaseMetric

from mmdet.registry import METRICS
from .utils import fmean, inter_union, iou, ori_hw, pred_masks, ratio, scalar_bool, \
    scalar_float, to_bool_masks, union_mask


@METRICS.register_module()
class GRESMetric(BaseMetric):
    """gIoU, cIoU, N-acc, T-acc and Pr@X of gRefCOCO (ReLA), plus PSALM's gIoU / cIoU.

    Per sample: target ``T`` = union of the metainfo ``gt_masks`` (0 masks for a no-target
    expression), prediction ``P`` = union of ``pred_instances.masks`` (one fused mask), the
    model's no-target decision ``pred_instances.no_target`` and the ground-truth flag: metainfo
    ``no_target`` if present, else ``T`` is empty. ``I = |P ∩ T|``, ``U = |P ∪ T|``.

    **ReLA protocol** (henghuiding/ReLA ``gres_model/evaluation/refer_evaluation.py``; the
    no-target *flag* decides, not the mask):

    - no-target sample, NT predicted (TP): IoU 1, adds nothing to ΣI, ΣU;
    - no-target sample, NT not predicted (FN): IoU 0, adds ``U`` (the predicted area) to ΣU;
    - targeted sample, NT predicted (FP): ``I := 0``, IoU 0, adds 0 to ΣI and ``U`` to ΣU;
    - targeted sample, NT not predicted (TN): IoU ``I / U`` (0 if ``U = 0``), adds I and U.

    ``gIoU = 100 · mean IoU`` over all samples; ``cIoU = 100 · ΣI / ΣU``;
    ``N_acc = 100 · TP / (TP + FN)``; ``T_acc = 100 · TN / (TN + FP)``; ``Pr@X = 100 ·`` share of
    *targeted* samples with IoU ≥ X. Differences from ReLA's code, on purpose: N-acc and T-acc
    are percentages (ReLA prints fractions; papers print percentages), and a ratio whose
    denominator is 0 is NaN (ReLA reports both accuracies as 0 when there is no no-target
    sample); there is no per-source breakdown.

    **PSALM protocol** (``psalm/eval/eval_grefcoco.py``, the paper's Tab. 12 numbers, val
    cIoU 42.0 / gIoU 43.3): the predicted mask as is (threshold fusion with the top-1 fallback,
    see ``GRESPostProcessor``), no flag, LISA's formulas: ``psalm_cIoU = 100 · ΣI / ΣU`` and
    ``psalm_gIoU = 100 · mean(I / U)`` with IoU 1 when ``U = 0`` (an empty prediction on a
    no-target sample). These keys are for comparison with the paper only: they are not
    comparable with ReLA's or GSVA's numbers.

    Sample unit (the dataset's ``protocol``): ReLA and GSVA score one sample per sentence
    (``GRefCocoDataset(protocol='per_sentence')``, ReLA val gIoU 63.60 / cIoU 62.42); PSALM's
    script joins all sentences of a ref into one sample (``protocol='per_ref'``).

    **No-target threshold sweep** (``no_target_thrs``): the no-target decision of
    ``GRESPostProcessor`` is ``target_score <= no_target_thr`` (the best fused score of any
    query), so the same predictions give ReLA's ``gIoU``, ``cIoU``, ``N_acc`` and ``T_acc`` at
    any other threshold ``t`` (keys ``gIoU@t`` ...; the mask is unchanged, only the flag moves),
    and ``no_target_thr_balanced``: the swept threshold with the highest balanced accuracy
    ``(N_acc + T_acc) / 2``, the first one on ties. Run on a training split, it calibrates the
    threshold of a model whose scores do not match the reference's 0.6.

    Args:
        pr_thrs: IoU thresholds of Pr@X (ReLA: 0.7, 0.8, 0.9).
        no_target_thrs: no-target thresholds to sweep (default none); needs
            ``pred_instances.target_score``.
        **kwargs: ``collect_device``, ``prefix``.
    """

    default_prefix: Optional[str] = 'gres'

    def __init__(self, pr_thrs: Sequence[float] = (0.7, 0.8, 0.9),
                 no_target_thrs: Sequence[float] = (), **kwargs) -> None:
        super().__init__(**kwargs)
        self.pr_thrs = tuple(float(t) for t in pr_thrs)
        self.no_target_thrs = tuple(float(t) for t in no_target_thrs)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Store ``(gt_nt, pred_nt, I, U, target_score)`` of each sample (one record per
        sample; the score is NaN when no sweep is asked for)."""
        for data_sample in data_samples:
            pred = pred_masks(data_sample, ori_hw(data_sample))
            gt = to_bool_masks(data_sample['gt_masks'], pred.shape[1:])
            target = union_mask(gt)
            gt_nt = data_sample.get('no_target')
            gt_nt = not target.any() if gt_nt is None else scalar_bool(gt_nt)
            instances = data_sample['pred_instances']
            if instances.get('no_target') is None:
                raise KeyError('pred_instances has no "no_target": GRESMetric needs the model\'s '
                               'explicit no-target decision (GRESPostProcessor writes it)')
            pred_nt = scalar_bool(instances['no_target'])
            score = float('nan')
            if self.no_target_thrs:
                if instances.get('target_score') is None:
                    raise KeyError('pred_instances has no "target_score": the no-target sweep '
                                   '(GRESMetric.no_target_thrs) needs the score that the '
                                   'decision thresholds (GRESPostProcessor writes it)')
                score = scalar_float(instances['target_score'])
            inter, union = inter_union(union_mask(pred), target)
            self.results.append((gt_nt, pred_nt, inter, union, score))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        metrics = _rela_metrics([r[:4] for r in results], self.pr_thrs)
        metrics['psalm_gIoU'] = 100 * fmean(iou(r[2], r[3], 1.0) for r in results)
        metrics['psalm_cIoU'] = 100 * ratio(sum(r[2] for r in results),
                                            sum(r[3] for r in results))
        best, best_acc = float('nan'), -1.0
        for thr in self.no_target_thrs:
            swept = _rela_metrics([(gt_nt, score <= thr, i, u)
                                   for gt_nt, _, i, u, score in results], ())
            for key in ('gIoU', 'cIoU', 'N_acc', 'T_acc'):
                metrics[f'{key}@{thr:g}'] = swept[key]
            acc = (swept['N_acc'] + swept['T_acc']) / 2
            if acc > best_acc:  # NaN (a split without one of the two kinds) never wins
                best, best_acc = thr, acc
        if self.no_target_thrs:
            metrics['no_target_thr_balanced'] = best
        return metrics


def _rela_metrics(records: Sequence[tuple], pr_thrs: Sequence[float]) -> Dict[str, float]:
    """ReLA's gIoU, cIoU, N-acc, T-acc and Pr@X from ``(gt_nt, pred_nt, I, U)`` records."""
    tp = fn = fp = tn = 0
    rela_iou, targeted_iou, cum_i, cum_u = [], [], 0, 0
    for gt_nt, pred_nt, inter, union in records:
        if gt_nt:
            if pred_nt:
                tp += 1
                rela_iou.append(1.0)
            else:
                fn += 1
                rela_iou.append(0.0)
                cum_u += union
            continue
        if pred_nt:
            fp += 1
            inter = 0  # a rejected target: nothing of it was found
        else:
            tn += 1
        this_iou = iou(inter, union, 0.0)
        rela_iou.append(this_iou)
        targeted_iou.append(this_iou)
        cum_i += inter
        cum_u += union
    metrics = {
        'gIoU': 100 * fmean(rela_iou),
        'cIoU': 100 * ratio(cum_i, cum_u),
        'N_acc': 100 * ratio(tp, tp + fn),
        'T_acc': 100 * ratio(tn, tn + fp),
    }
    for thr in pr_thrs:
        metrics[f'Pr@{thr:g}'] = 100 * ratio(sum(v >= thr for v in targeted_iou),
                                             len(targeted_iou))
    return metrics
