"""Semantic-segmentation mIoU with an explicit class-averaging convention (open-vocabulary)."""
from collections import OrderedDict
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.logging import MMLogger

from mmdet.evaluation.metrics import SemSegMetric
from mmdet.evaluation.metrics.semseg_metric import print_semantic_table
from mmdet.registry import METRICS

CLASS_AVERAGES = ('gt_present', 'gt_or_pred_present')


@METRICS.register_module()
class OVSemSegMetric(SemSegMetric):
    """mIoU, mAcc and pixel accuracy with a chosen class-averaging convention.

    mmdet's :class:`~mmdet.evaluation.metrics.SemSegMetric` reads the data (``pred_sem_seg`` and
    ``gt_sem_seg``, ``output_dir`` / ``format_only``); this subclass changes the statistics and
    the averaging. Over the whole dataset, on pixels whose ground truth is not ``ignore_index``,
    per class c: ``TP_c`` (predicted c and labelled c), ``GT_c`` (labelled c), ``P_c`` (predicted
    c), ``IoU_c = TP_c / (GT_c + P_c - TP_c)``, ``Acc_c = TP_c / GT_c``.

    ``mIoU = 100 · mean of IoU_c`` over the classes chosen by ``class_average``:

    - ``'gt_present'`` (default): classes with ``GT_c > 0``, as detectron2's ``SemSegEvaluator``
      (used by PSALM, Mask2Former and fc-clip for the open-vocabulary numbers, e.g. PSALM
      ADE-150 18.2, PC-59 48.5, PC-459 10.2). A class predicted but absent from the ground truth
      lowers only the IoU of the classes it takes pixels from;
    - ``'gt_or_pred_present'``: classes with a non-empty union, as mmseg's ``IoUMetric`` and
      mmdet's ``SemSegMetric`` (NaN-mean): a predicted-only class counts with IoU 0.

    The two agree when every class occurs in the ground truth (ADE-150 val) and can differ by
    several points otherwise (PC-459, A-847). ``mAcc = 100 · mean Acc_c`` over classes with
    ``GT_c > 0``; ``aAcc = 100 · ΣTP / ΣGT`` is pixel accuracy (mmdet 3.3's ``SemSegMetric``
    reports the mean class accuracy under that name). Predicted labels outside ``[0, C)`` count
    as wrong for their pixel's class. Counts are exact integers (mmdet's ``histc`` counts are
    float32).

    Args:
        class_average: ``'gt_present'`` or ``'gt_or_pred_present'``.
        ignore_index: ground-truth label to skip (255; 65535 for PASCAL-Context 459). None:
            read it from ``pred_sem_seg.ignore_index`` (default 255), as mmdet does.
        **kwargs: :class:`~mmdet.evaluation.metrics.SemSegMetric` arguments except
            ``iou_metrics`` (``output_dir``, ``format_only``, ``collect_device``, ``prefix``).
    """

    default_prefix: Optional[str] = 'sem_seg'

    def __init__(self, class_average: str = 'gt_present', ignore_index: Optional[int] = None,
                 **kwargs) -> None:
        if class_average not in CLASS_AVERAGES:
            raise ValueError(f'class_average must be one of {CLASS_AVERAGES}, '
                             f'got {class_average!r}')
        super().__init__(iou_metrics=['mIoU'], **kwargs)
        self.class_average = class_average
        self.ignore_index = ignore_index

    def _compute_pred_stats(self, pred_label: torch.Tensor, label: torch.Tensor,
                            num_classes: int, ignore_index: int) -> Dict[str, np.ndarray]:
        """Per-class integer counts of one image (called by the parent's ``process``)."""
        if self.ignore_index is not None:
            ignore_index = self.ignore_index
        if pred_label.shape != label.shape:
            raise ValueError(f'prediction {tuple(pred_label.shape)} and ground truth '
                             f'{tuple(label.shape)} differ in size')
        valid = label != ignore_index
        gt = label[valid].long().cpu()
        pred = pred_label[valid].long().cpu()
        if gt.numel() and (int(gt.min()) < 0 or int(gt.max()) >= num_classes):
            raise ValueError(f'ground-truth label {int(gt.max())} outside [0, {num_classes}) and '
                             f'not the ignore index {ignore_index}: check ignore_index and '
                             'the class list')
        in_range = (pred >= 0) & (pred < num_classes)

        def count(x: torch.Tensor) -> np.ndarray:
            return torch.bincount(x, minlength=num_classes).numpy()

        return dict(
            area_intersect=count(gt[pred == gt]),
            area_pred_label=count(pred[in_range]),
            area_label=count(gt))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        if self.format_only:
            return OrderedDict()
        # Integer sums: exact whatever the order and grouping of the records.
        zeros = np.zeros(len(self.dataset_meta['classes']), dtype=np.int64)
        inter = sum((r['area_intersect'] for r in results), zeros)
        pred = sum((r['area_pred_label'] for r in results), zeros)
        label = sum((r['area_label'] for r in results), zeros)
        union = pred + label - inter
        with np.errstate(divide='ignore', invalid='ignore'):
            iou = np.where(union > 0, inter / union, np.nan)
            acc = np.where(label > 0, inter / label, np.nan)
        averaged = label > 0 if self.class_average == 'gt_present' else union > 0
        metrics = OrderedDict(
            aAcc=100 * float(inter.sum() / label.sum()) if label.sum() else float('nan'),
            mIoU=100 * float(iou[averaged].mean()) if averaged.any() else float('nan'),
            mAcc=100 * float(acc[label > 0].mean()) if (label > 0).any() else float('nan'))
        # Per-class table: only the classes that enter the mean have a value.
        print_semantic_table(
            dict(IoU=np.where(averaged, iou, np.nan), Acc=acc), self.dataset_meta['classes'],
            MMLogger.get_current_instance())
        return metrics
