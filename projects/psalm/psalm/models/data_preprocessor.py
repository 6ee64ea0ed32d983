"""Normalisation and the fixed input canvas of PSALM."""
from typing import Optional, Tuple

import torch.nn.functional as F
from mmengine.structures import PixelData

from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmdet.registry import MODELS


@MODELS.register_module()
class PSALMDataPreprocessor(DetDataPreprocessor):
    """mmdet's ``DetDataPreprocessor`` that puts every batch, in training and in testing, on a
    fixed canvas (the reference pads each resized image to 1024x1024 at the bottom/right).

    Unlike mmdet's ``BatchFixedSizePad`` (training only), it also pads the images at test time.
    Ground-truth masks and semantic maps are padded in training only (test-time targets stay at
    ``ori_shape`` for the metrics), and only for samples that have them.

    Args:
        canvas_size: (H, W) of the canvas; resized images must fit in it.
        pad_pixel: raw pixel value of the padding, before normalisation (detectron2 pads with
            128, which the reference inherits). None pads with 0 after normalisation.
        **kwargs: :class:`DetDataPreprocessor` arguments.
    """

    def __init__(self, canvas_size: Tuple[int, int] = (1024, 1024),
                 pad_pixel: Optional[float] = 128.0, **kwargs) -> None:
        super().__init__(**kwargs)
        # Targets are padded here, to the canvas, and only where present.
        self.pad_mask = self.pad_seg = False
        self.canvas_size = tuple(canvas_size)
        self.pad_pixel = pad_pixel

    def forward(self, data: dict, training: bool = False) -> dict:
        data = super().forward(data, training)
        inputs, samples = data['inputs'], data['data_samples']
        canvas_h, canvas_w = self.canvas_size
        if inputs.shape[-2] > canvas_h or inputs.shape[-1] > canvas_w:
            raise ValueError(f'input batch of size {tuple(inputs.shape[-2:])} does not fit the '
                             f'{self.canvas_size} canvas: resize images first (long side <= '
                             f'{max(self.canvas_size)})')
        if self.pad_pixel is None:
            fill = inputs.new_zeros(inputs.shape[1])
        elif self._enable_normalize:
            fill = (self.pad_pixel - self.mean.view(-1)) / self.std.view(-1)
        else:
            fill = inputs.new_full((inputs.shape[1], ), self.pad_pixel)
        canvas = fill.view(1, -1, 1, 1).repeat(inputs.shape[0], 1, canvas_h, canvas_w)
        for i, sample in enumerate(samples or [None] * inputs.shape[0]):
            h, w = sample.metainfo['img_shape'][:2] if sample is not None else inputs.shape[-2:]
            canvas[i, :, :h, :w] = inputs[i, :, :h, :w]
        for sample in samples or []:
            sample.set_metainfo(dict(batch_input_shape=self.canvas_size,
                                     pad_shape=self.canvas_size))
            if training:
                # As mmdet: test-time targets stay at ori_shape, where metrics score them.
                self._pad_targets(sample)
        data['inputs'] = canvas
        return data

    def _pad_targets(self, sample) -> None:
        canvas_h, canvas_w = self.canvas_size
        if 'gt_instances' in sample and 'masks' in sample.gt_instances:
            masks = sample.gt_instances.masks
            if hasattr(masks, 'pad'):
                sample.gt_instances.masks = masks.pad(self.canvas_size, pad_val=self.mask_pad_value)
        if 'gt_sem_seg' in sample:
            seg = sample.gt_sem_seg.sem_seg
            seg = F.pad(seg, (0, canvas_w - seg.shape[-1], 0, canvas_h - seg.shape[-2]),
                        value=self.seg_pad_value)
            sample.gt_sem_seg = PixelData(sem_seg=seg)
