import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .conv_bn import Conv2dBN


class RepVGGDW(nn.Module):
    """Depth-wise 3x3 + depth-wise 1x1 + identity; re-parameterisable into one 3x3 conv.

    Args:
        embed_dim: C, input and output channels.
    """

    def __init__(self, embed_dim: int):
        super().__init__()
        self.conv = Conv2dBN(embed_dim, embed_dim, 3, 1, 1, groups=embed_dim)
        self.conv1 = Conv2dBN(embed_dim, embed_dim, 1, 1, 0, groups=embed_dim)
        self.embed_dim = embed_dim

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        return self.conv(x) + self.conv1(x) + x

    @torch.no_grad()
    def fuse(self) -> nn.Conv2d:
        """One depth-wise 3x3 Conv2d (with bias) computing the same function in eval mode."""
        conv = self.conv.fuse()
        conv1 = self.conv1.fuse()
        # The 1x1 branch and the identity are 3x3 kernels with only the centre tap set.
        identity = torch.ones_like(conv1.weight)
        weight = conv.weight + F.pad(conv1.weight + identity, (1, 1, 1, 1))
        # The deploy form itself, so that folding and deploy=True build the same module.
        fused = build_repvgg_dw(self.embed_dim, deploy=True).to(weight)
        fused.weight.copy_(weight)
        fused.bias.copy_(conv.bias + conv1.bias)
        return fused


def build_repvgg_dw(embed_dim: int, deploy: bool = False) -> nn.Module:
    """A :class:`RepVGGDW`, or with ``deploy`` the depth-wise 3x3 Conv2d (with bias) its
    ``fuse()`` returns, which a folded model's state dict loads into strictly.

    Either maps ``(B, C, H, W)`` to ``(B, C, H, W)``, ``C = embed_dim``.
    """
    if deploy:
        return nn.Conv2d(embed_dim, embed_dim, 3, 1, 1, groups=embed_dim)
    return RepVGGDW(embed_dim)
