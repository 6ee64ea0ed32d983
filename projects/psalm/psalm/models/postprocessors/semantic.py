"""Semantic post-processing: per-pixel category from query probabilities and masks."""
import torch
from mmengine.structures import PixelData
from torch import Tensor

from mmdet.registry import TASK_UTILS
from mmdet.structures import DetDataSample


@TASK_UTILS.register_module()
class SemanticPostProcessor:
    """Writes ``pred_sem_seg``: ``argmax_c sum_q softmax(scores)[q, c] * sigmoid(mask_q)``
    over the categories without ``background``."""

    def __call__(self, mask_logits: Tensor, scores: Tensor, data_sample: DetDataSample) -> None:
        seg_logits = torch.einsum('qc,qhw->chw', scores.softmax(-1)[:, :-1], mask_logits.sigmoid())
        data_sample.pred_sem_seg = PixelData(sem_seg=seg_logits.argmax(0, keepdim=True),
                                             seg_logits=seg_logits)
