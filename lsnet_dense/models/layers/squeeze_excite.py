import torch.nn as nn
from torch import Tensor


class SqueezeExcite(nn.Module):
    """Channel gate from the spatial mean: ``x * sigmoid(fc2(relu(fc1(mean(x)))))``.

    Same semantics and child names (``fc1``, ``fc2``) as timm's SEModule with rd_ratio 0.25
    rounded to a multiple of 8, so published weights load unchanged.

    Args:
        channels: C, the number of channels gated.
    """

    def __init__(self, channels: int):
        super().__init__()
        reduced = max(8, int(channels * 0.25 + 4) // 8 * 8)
        self.fc1 = nn.Conv2d(channels, reduced, 1, bias=True)
        self.act = nn.ReLU()
        self.fc2 = nn.Conv2d(reduced, channels, 1, bias=True)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        gate = self.fc2(self.act(self.fc1(x.mean((2, 3), keepdim=True))))
        return x * gate.sigmoid()
