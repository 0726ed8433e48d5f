from typing import List, Tuple

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from torch import Tensor

from lsnet_dense.registry import register_model

try:
    from mmdet.models.necks import FPN
except ModuleNotFoundError as error:  # an mmseg-only environment
    if error.name != 'mmdet':
        raise
    from mmseg.models.necks import FPN


def _in_mmseg_terms(num_ins: int, end_level: int = -1, add_extra_convs=False, **kwargs) -> dict:
    """mmdet FPN arguments as mmseg's FPN (the base class without mmdet) takes them.

    mmseg's FPN builds the same layers, but its ``end_level`` is exclusive (mmdet's: inclusive)
    and it reads ``add_extra_convs=True`` as ``'on_output'`` (mmdet: ``'on_input'``).
    """
    if 'extra_convs_on_inputs' in kwargs:
        raise TypeError("LSNetFPN takes mmdet's FPN arguments: instead of extra_convs_on_inputs, "
                        "give add_extra_convs='on_input' or 'on_output'")
    if end_level not in (-1, num_ins - 1):
        kwargs['end_level'] = end_level + 1
    return dict(kwargs, add_extra_convs='on_input' if add_extra_convs is True else add_extra_convs)


@register_model
class LSNetFPN(FPN):
    """mmdet's FPN plus ``num_extra_trans_convs`` finer levels made by transposed convolution.

    After the top-down pass, the finest lateral is up-sampled ``k`` times by
    ``extra_trans_convs.k`` (ConvTranspose2d, kernel 2, stride 2) and each result is smoothed by
    ``extra_fpn_convs.k`` (3x3 conv). Those finer maps come first in the output, finest first.
    Everything else (laterals, top-down, 3x3 outputs, stride-2 extra convs or max-pool levels)
    is mmdet's FPN. Without mmdet (an mmseg-only environment) the layers come from mmseg's FPN,
    with the arguments meaning what they mean to mmdet's.

    Args:
        in_channels: channels of each backbone level.
        out_channels: channels of every output.
        num_outs: number of outputs, finer levels included.
        num_extra_trans_convs: number of finer levels (each halves the finest stride).
        **kwargs: the other arguments of :class:`mmdet.models.necks.FPN`.

    Shapes:
        inputs: ``len(in_channels)`` maps ``(B, in_channels[i], H_i, W_i)``; outputs: ``num_outs``
        maps ``(B, out_channels, H, W)`` from finest to coarsest.
    """

    def __init__(self, in_channels: List[int], out_channels: int, num_outs: int,
                 num_extra_trans_convs: int = 0, **kwargs):
        if not 0 <= num_extra_trans_convs < num_outs:
            raise ValueError(f'num_extra_trans_convs must be in 0..num_outs-1, got '
                             f'{num_extra_trans_convs} with num_outs {num_outs}')
        if FPN.__module__.startswith('mmseg.'):
            kwargs = _in_mmseg_terms(len(in_channels), **kwargs)
        super().__init__(in_channels, out_channels, num_outs - num_extra_trans_convs, **kwargs)
        self.num_extra_trans_convs = num_extra_trans_convs
        self.extra_trans_convs = nn.ModuleList()
        self.extra_fpn_convs = nn.ModuleList()
        for _ in range(num_extra_trans_convs):
            self.extra_trans_convs.append(ConvModule(
                out_channels, out_channels, 2, stride=2, conv_cfg=dict(type='deconv'),
                norm_cfg=self.lateral_convs[0].norm_cfg, act_cfg=self.lateral_convs[0].act_cfg,
                inplace=False))
            self.extra_fpn_convs.append(ConvModule(
                out_channels, out_channels, 3, padding=1,
                norm_cfg=self.fpn_convs[0].norm_cfg, act_cfg=self.fpn_convs[0].act_cfg,
                inplace=False))

    def forward(self, inputs: Tuple[Tensor, ...]) -> Tuple[Tensor, ...]:
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'LSNetFPN expects {len(self.in_channels)} feature maps, got '
                             f'{len(inputs)}')
        laterals = [conv(inputs[i + self.start_level]) for i, conv in enumerate(self.lateral_convs)]
        for i in range(len(laterals) - 1, 0, -1):
            if 'scale_factor' in self.upsample_cfg:
                upsampled = F.interpolate(laterals[i], **self.upsample_cfg)
            else:
                upsampled = F.interpolate(laterals[i], size=laterals[i - 1].shape[2:],
                                          **self.upsample_cfg)
            laterals[i - 1] = laterals[i - 1] + upsampled

        finer = []
        x = laterals[0]
        for trans_conv, fpn_conv in zip(self.extra_trans_convs, self.extra_fpn_convs):
            x = trans_conv(x)
            finer.insert(0, fpn_conv(x))

        outs = [self.fpn_convs[i](lateral) for i, lateral in enumerate(laterals)]
        num_coarser = self.num_outs - len(outs)
        if num_coarser > 0 and not self.add_extra_convs:
            for _ in range(num_coarser):
                outs.append(F.max_pool2d(outs[-1], 1, stride=2))
        elif num_coarser > 0:
            source = {'on_input': inputs[self.backbone_end_level - 1],
                      'on_lateral': laterals[-1],
                      'on_output': outs[-1]}[self.add_extra_convs]
            outs.append(self.fpn_convs[len(laterals)](source))
            for i in range(len(laterals) + 1, self.num_outs):
                source = F.relu(outs[-1]) if self.relu_before_extra_convs else outs[-1]
                outs.append(self.fpn_convs[i](source))
        return tuple(finer + outs)
