import torch
import torch.nn as nn
from torch import Tensor


class DropPath(nn.Module):
    """Stochastic depth: in training, zero the whole input of a sample with probability ``p``
    and scale the kept ones by ``1 / (1 - p)``; the identity in eval mode.

    Shapes: ``(B, ...) -> (B, ...)``.
    """

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        keep = 1 - self.p
        mask = torch.rand((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device)
        return x / keep * (mask + keep).floor()

    def extra_repr(self) -> str:
        return f'p={self.p}'
