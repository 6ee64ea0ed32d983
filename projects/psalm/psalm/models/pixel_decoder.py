"""mmdet's ``MSDeformAttnPixelDecoder`` with the reference's FPN convolutions.

PSALM's vendored Mask2Former gives the stride-4 lateral conv (``adapter_1``) a bias and a ReLU and
its 3x3 output conv (``layer_1``) a bias; mmdet's (like the original Mask2Former) has neither.
Its deformable attention runs in fp32 under mixed precision (the reference casts to fp32 too).
"""
from typing import Any, Optional

import torch
from mmcv.cnn import ConvModule
from mmcv.ops import MultiScaleDeformableAttention
from torch import Tensor
from torch.nn import ModuleList

from mmdet.models.layers import MSDeformAttnPixelDecoder
from mmdet.registry import MODELS


def _to_fp32(x: Any) -> Any:
    return x.float() if isinstance(x, Tensor) and x.is_floating_point() else x


class FP32MultiScaleDeformableAttention(MultiScaleDeformableAttention):
    """mmcv's ``MultiScaleDeformableAttention`` computed in fp32 inside ``torch.autocast``.

    mmcv's CUDA kernel has no bfloat16 version (``AT_DISPATCH_FLOATING_TYPES_AND_HALF``) and
    sampling offsets lose precision in half precision, so the whole module (projections, sampling
    and output projection) runs with autocast off on fp32 inputs. Its output stays fp32; the
    next layers cast it as autocast decides. Without autocast it is mmcv's module unchanged.
    """

    def forward(self, query: Tensor, *args, **kwargs) -> Tensor:
        device_type = query.device.type
        if not torch.is_autocast_enabled(device_type):
            return super().forward(query, *args, **kwargs)
        with torch.autocast(device_type=device_type, enabled=False):
            return super().forward(_to_fp32(query), *[_to_fp32(a) for a in args],
                                   **{k: _to_fp32(v) for k, v in kwargs.items()})


@MODELS.register_module()
class PSALMPixelDecoder(MSDeformAttnPixelDecoder):
    """Args as :class:`MSDeformAttnPixelDecoder`, plus:

    Args:
        lateral_act_cfg: activation after the lateral (``adapter_1``) conv; ReLU in the
            reference, None in mmdet.
        fpn_conv_bias: give the lateral and output convs a bias (reference: True).
        msda_fp32: run the encoder's deformable attention in fp32 under autocast (needed for
            bf16 on GPUs: mmcv's kernel has none); parameters and names are unchanged.
    """

    def __init__(self, *args, lateral_act_cfg: Optional[dict] = dict(type='ReLU'),
                 fpn_conv_bias: bool = True, msda_fp32: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if msda_fp32:
            for layer in self.encoder.layers:
                layer.self_attn = FP32MultiScaleDeformableAttention(**layer.self_attn_cfg)
        if lateral_act_cfg is None and not fpn_conv_bias:
            return  # exactly mmdet's decoder
        in_channels = kwargs.get('in_channels', args[0] if args else [256, 512, 1024, 2048])
        feat_channels = kwargs.get('feat_channels', 256)
        norm_cfg = kwargs.get('norm_cfg', dict(type='GN', num_groups=32))
        act_cfg = kwargs.get('act_cfg', dict(type='ReLU'))
        self.lateral_convs, self.output_convs = ModuleList(), ModuleList()
        for i in range(self.num_input_levels - self.num_encoder_levels - 1, -1, -1):
            self.lateral_convs.append(
                ConvModule(in_channels[i], feat_channels, kernel_size=1, bias=fpn_conv_bias,
                           norm_cfg=norm_cfg, act_cfg=lateral_act_cfg))
            self.output_convs.append(
                ConvModule(feat_channels, feat_channels, kernel_size=3, padding=1,
                           bias=fpn_conv_bias, norm_cfg=norm_cfg, act_cfg=act_cfg))
