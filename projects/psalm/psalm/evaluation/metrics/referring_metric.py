"""cIoU / gIoU for referring expression segmentation (RefCOCO, RefCOCO+, RefCOCOg)."""
from typing import Dict, List, Optional, Sequence

from mmdet.evaluation.metrics import RefSegMetric
from mmdet.registry import METRICS
from .utils import fmean, inter_union, iou, ori_hw, pred_masks, ratio, to_bool_masks, union_mask

# mmdet's RefSegMetric calls the per-sample mean "mIoU"; referring papers call it gIoU.
_METRICS = ('cIoU', 'gIoU', 'mIoU')


@METRICS.register_module()
class ReferringSegMetric(RefSegMetric):
    """cIoU and gIoU of referring segmentation.

    Input contract (mmdet's ``RefSegMetric``): ``pred_instances.masks`` (N, H, W) and the
    metainfo ``gt_masks`` (``BitmapMasks`` or array), both at ``ori_shape``. Predicted mask i is
    scored against target i; a single predicted mask with several targets is scored against
    their union. Each such pair is one *scored sample*, with pixel counts
    ``I = |P ∩ T|`` and ``U = |P ∪ T|``:

    - ``cIoU = 100 · ΣI / ΣU`` (cumulative IoU over all scored samples);
    - ``gIoU = 100 · mean(IoU)``, ``IoU = I / U``, and ``IoU = empty_union_iou`` when ``U = 0``
      (prediction and target both empty). Also returned as ``mIoU`` on request (mmdet's name).

    The empty-union rule is the one point where published code bases differ:
    ``empty_union_iou=1.0`` (default) is the rule of PSALM's ``referring_segmentation.py`` and of
    LISA, GSVA and GLaMM; ``empty_union_iou=0.0`` reproduces mmdet's ``RefSegMetric`` (NaN set
    to 0). On RefCOCO/+/g every target is non-empty, so the rule never applies there. If ``ΣU =
    0`` (all scored samples empty), cIoU follows the same rule.

    The sample unit is the dataset's (``PSALMRefCocoDataset(protocol=...)``): the metric scores
    whatever samples it receives. Published numbers:

    - PSALM (RefCOCO val cIoU 83.6 and its other RefCOCO/+/g numbers): **per ref** (one sample
      per referred object, all its sentences joined into one instruction, ``protocol='per_ref'``;
      zamling/PSALM issue #31);
    - LISA, GSVA, GLaMM, SELF1E: **per sentence** (``protocol='per_sentence'``);
    - mmdet's X-Decoder port reports both (RefCOCOg val cIoU 60.03 per sentence, 60.36 joined).

    Args:
        metric: any of ``'cIoU'``, ``'gIoU'``, ``'mIoU'`` (= gIoU under mmdet's name).
        empty_union_iou: IoU of a scored sample whose prediction and target are both empty.
        **kwargs: ``collect_device``, ``prefix`` (:class:`~mmengine.evaluator.BaseMetric`).
    """

    default_prefix: Optional[str] = 'refseg'

    def __init__(self, metric: Sequence[str] = ('cIoU', 'gIoU'), empty_union_iou: float = 1.0,
                 **kwargs) -> None:
        metric = tuple(metric)
        if not metric or not set(metric) <= set(_METRICS):
            raise ValueError(f'metric must be a non-empty subset of {_METRICS}, got {metric}')
        # The parent validates its own names (gIoU is its mIoU) and sets up BaseMetric.
        super().__init__(metric=tuple('mIoU' if m == 'gIoU' else m for m in metric), **kwargs)
        self.metrics = metric
        self.empty_union_iou = float(empty_union_iou)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Store ``(I, U)`` of every scored pair of each sample (one record per sample)."""
        for data_sample in data_samples:
            pred = pred_masks(data_sample, ori_hw(data_sample))
            gt = to_bool_masks(data_sample['gt_masks'], pred.shape[1:])
            if len(pred) == len(gt):
                pairs = list(zip(pred, gt))
            elif len(pred) == 1:
                pairs = [(pred[0], union_mask(gt))]
            else:
                raise ValueError(f'{len(pred)} predicted masks for {len(gt)} targets: expected '
                                 'one prediction per target, or a single prediction')
            self.results.append([inter_union(p, t) for p, t in pairs])

    def compute_metrics(self, results: List[list]) -> Dict[str, float]:
        pairs = [pair for sample in results for pair in sample]
        metrics = {}
        if 'cIoU' in self.metrics:
            inter = sum(i for i, _ in pairs)
            union = sum(u for _, u in pairs)
            metrics['cIoU'] = 100 * ratio(inter, union, self.empty_union_iou)
        giou = 100 * fmean(iou(i, u, self.empty_union_iou) for i, u in pairs)
        for name in ('gIoU', 'mIoU'):
            if name in self.metrics:
                metrics[name] = giou
        return metrics
