import torch.nn as nn
from torch import Tensor

from .conv_bn import build_conv2d_bn


class FFN(nn.Module):
    """Point-wise feed-forward network: 1x1 expand, ReLU, 1x1 project.

    Args:
        embed_dim: input and output channels.
        hidden_dim: expanded channels (LSNet uses ``2 * embed_dim``).
        deploy: build the Conv+BN units folded, as after ``switch_to_deploy`` (no BatchNorm).
    """

    def __init__(self, embed_dim: int, hidden_dim: int, deploy: bool = False):
        super().__init__()
        self.pw1 = build_conv2d_bn(embed_dim, hidden_dim, deploy=deploy)
        self.act = nn.ReLU()
        self.pw2 = build_conv2d_bn(hidden_dim, embed_dim, bn_weight_init=0, deploy=deploy)

    def forward(self, x: Tensor) -> Tensor:
        """(B, embed_dim, H, W) -> (B, embed_dim, H, W)."""
        return self.pw2(self.act(self.pw1(x)))
