import torch
import torch.nn as nn
from torch import Tensor


class Conv2dBN(nn.Sequential):
    """Conv2d without bias followed by BatchNorm2d; the basic unit of LSNet.

    Children are named ``c`` and ``bn`` as in the published checkpoints. Being an
    ``nn.Sequential`` of a conv then a BN, it is fused by :func:`mmcv.cnn.fuse_conv_bn`.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups: as Conv2d.
        bn_weight_init: initial BN scale; 0 makes a residual branch start as the identity.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1,
                 stride: int = 1, padding: int = 0, dilation: int = 1, groups: int = 1,
                 bn_weight_init: float = 1.):
        super().__init__()
        self.c = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation,
                           groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        nn.init.constant_(self.bn.weight, bn_weight_init)
        nn.init.constant_(self.bn.bias, 0)

    def forward(self, x: Tensor) -> Tensor:
        """(B, in_channels, H, W) -> (B, out_channels, H', W')."""
        return self.bn(self.c(x))

    @torch.no_grad()
    def fuse(self) -> nn.Conv2d:
        """One Conv2d with bias computing the same function as this module in eval mode."""
        conv, bn = self.c, self.bn
        scale = bn.weight / (bn.running_var + bn.eps).sqrt()
        # The deploy form itself, so that folding and deploy=True build the same module.
        fused = build_conv2d_bn(conv.in_channels, conv.out_channels, conv.kernel_size,
                                conv.stride, conv.padding, conv.dilation, conv.groups,
                                deploy=True).to(conv.weight)
        fused.weight.copy_(conv.weight * scale[:, None, None, None])
        fused.bias.copy_(bn.bias - bn.running_mean * scale)
        return fused


def build_conv2d_bn(in_channels: int, out_channels: int, kernel_size: int = 1, stride: int = 1,
                    padding: int = 0, dilation: int = 1, groups: int = 1,
                    bn_weight_init: float = 1., deploy: bool = False) -> nn.Module:
    """A :class:`Conv2dBN`, or with ``deploy`` the Conv2d with bias its ``fuse()`` returns.

    The deploy form has the folded module's type and parameter names (``weight``, ``bias``), so
    the state dict of a folded model loads into it strictly. Either maps
    ``(B, in_channels, H, W)`` to ``(B, out_channels, H', W')``.
    """
    if deploy:
        return nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias=True)
    return Conv2dBN(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                    bn_weight_init)
