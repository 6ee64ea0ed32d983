"""Vision-language projector: Swin res5 features -> LLM image tokens (the reference `swin_conv`)."""
from typing import Optional

import torch.nn as nn
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor

from mmdet.models.backbones.resnet import BasicBlock
from mmdet.registry import MODELS


class _RepeatedConv2BasicBlock(BasicBlock):
    """mmdet's ``BasicBlock`` whose second 3x3 conv can run twice.

    The released PSALM projector applies ``conv2`` twice with the same weights and no norm in
    between (a bug in the authors' code that the released weights were trained with).
    """

    def __init__(self, *args, repeat_conv2: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.repeat_conv2 = repeat_conv2

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.conv2(out)
        if self.repeat_conv2:
            out = self.conv2(out)
        out = self.norm2(out)
        return self.relu(out + identity)


@MODELS.register_module()
class SwinConvProjector(BaseModule):
    """One ResNet basic block (stride 2) and a linear layer, as in the released PSALM.

    ``(B, in_channels, H, W)`` -> ``(B, H/2 * W/2, out_channels)`` image tokens; for Swin-B res5
    of a 1024x1024 image: (B, 1024, 32, 32) -> (B, 256, 2048).

    Args:
        in_channels: channels of the backbone level fed to the LLM (1024 for Swin-B res5).
        hidden_channels: channels of the basic block (2048 in the reference).
        out_channels: LLM hidden size.
        repeat_conv2: reproduce the released model's double application of ``conv2``.
        norm_cfg: norm of the block (BatchNorm in the reference).
    """

    def __init__(self,
                 in_channels: int = 1024,
                 hidden_channels: int = 2048,
                 out_channels: int = 2048,
                 repeat_conv2: bool = True,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        downsample = nn.Sequential(
            build_conv_layer(None, in_channels, hidden_channels, 1, stride=2, bias=False),
            build_norm_layer(norm_cfg, hidden_channels)[1])
        block = _RepeatedConv2BasicBlock(in_channels, hidden_channels, stride=2,
                                         downsample=downsample, norm_cfg=norm_cfg,
                                         repeat_conv2=repeat_conv2)
        # `layer1.0.*` and `fc.*` mirror the reference's parameter names.
        self.layer1 = nn.Sequential(block)
        self.fc = nn.Linear(hidden_channels, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, ceil(H/2) * ceil(W/2), out_channels)."""
        x = self.layer1(x)
        return self.fc(x.flatten(2).transpose(1, 2))
