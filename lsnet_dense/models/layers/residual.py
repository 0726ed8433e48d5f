import torch.nn as nn
from torch import Tensor

from .drop_path import DropPath


class Residual(nn.Module):
    """``x + m(x)``, the branch dropped per sample with probability ``drop`` in training.

    The wrapped module is the child ``m``, as in the published checkpoints.
    """

    def __init__(self, m: nn.Module, drop: float = 0.):
        super().__init__()
        self.m = m
        self.drop_path = DropPath(drop) if drop > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        return x + self.drop_path(self.m(x))
