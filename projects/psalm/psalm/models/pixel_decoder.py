"""mmdet's ``MSDeformAttnPixelDecoder`` with the reference's FPN convolutions.

PSALM's vendored Mask2Former gives the stride-4 lateral conv (``adapter_1``) a bias and a ReLU and
its 3x3 output conv (``layer_1``) a bias; mmdet's (like the original Mask2Former) has neither.
"""
from typing import Optional

from mmcv.cnn import ConvModule
from torch.nn import ModuleList

from mmdet.models.layers import MSDeformAttnPixelDecoder
from mmdet.registry import MODELS


@MODELS.register_module()
class PSALMPixelDecoder(MSDeformAttnPixelDecoder):
    """Args as :class:`MSDeformAttnPixelDecoder`, plus:

    Args:
        lateral_act_cfg: activation after the lateral (``adapter_1``) conv; ReLU in the
            reference, None in mmdet.
        fpn_conv_bias: give the lateral and output convs a bias (reference: True).
    """

    def __init__(self, *args, lateral_act_cfg: Optional[dict] = dict(type='ReLU'),
                 fpn_conv_bias: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
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
