import torch.nn as nn
from torch import Tensor

from .conv_bn import Conv2dBN


class FFN(nn.Module):
    """Point-wise feed-forward network: 1x1 expand, ReLU, 1x1 project.

    Args:
        embed_dim: input and output channels.
        hidden_dim: expanded channels (LSNet uses ``2 * embed_dim``).
    """

    def __init__(self, embed_dim: int, hidden_dim: int):
        super().__init__()
        self.pw1 = Conv2dBN(embed_dim, hidden_dim)
        self.act = nn.ReLU()
        self.pw2 = Conv2dBN(hidden_dim, embed_dim, bn_weight_init=0)

    def forward(self, x: Tensor) -> Tensor:
        """(B, embed_dim, H, W) -> (B, embed_dim, H, W)."""
        return self.pw2(self.act(self.pw1(x)))
