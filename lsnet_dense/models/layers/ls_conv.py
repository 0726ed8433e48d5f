import torch.nn as nn
from torch import Tensor

from lsnet_dense.ops import ska
from .conv_bn import build_conv2d_bn


class LKP(nn.Module):
    """Large-kernel perception: predicts a K_S x K_S filter per pixel and weight group.

    A cheap depth-wise ``large_kernel`` conv on half the channels gives each pixel a wide view;
    a 1x1 conv turns that into ``small_kernel**2`` taps for each of ``dim // group_width`` groups.

    Args:
        dim: C, input channels.
        large_kernel: K_L, the depth-wise perception kernel (7).
        small_kernel: K_S, the aggregation kernel whose taps are predicted (3).
        group_width: channels sharing one predicted filter (8), so G = C / group_width.
        deploy: build the Conv+BN units folded, as after ``switch_to_deploy`` (no BatchNorm).
    """

    def __init__(self, dim: int, large_kernel: int = 7, small_kernel: int = 3,
                 group_width: int = 8, deploy: bool = False):
        super().__init__()
        hidden = dim // 2
        self.num_groups = dim // group_width
        self.taps = small_kernel * small_kernel
        self.cv1 = build_conv2d_bn(dim, hidden, deploy=deploy)
        self.act = nn.ReLU()
        self.cv2 = build_conv2d_bn(hidden, hidden, large_kernel, 1, (large_kernel - 1) // 2,
                                   groups=hidden, deploy=deploy)
        self.cv3 = build_conv2d_bn(hidden, hidden, deploy=deploy)
        self.cv4 = nn.Conv2d(hidden, self.taps * self.num_groups, 1, bias=True)
        self.norm = nn.GroupNorm(self.num_groups, self.taps * self.num_groups)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> filters (B, G, K_S*K_S, H, W)."""
        w = self.act(self.cv3(self.cv2(self.act(self.cv1(x)))))
        w = self.norm(self.cv4(w))
        batch, _, height, width = w.shape
        return w.view(batch, self.num_groups, self.taps, height, width)


class LSConv(nn.Module):
    """LS convolution: "see large" with :class:`LKP`, "focus small" with SKA, plus identity.

    Output: ``bn(ska(x, lkp(x))) + x``.

    Args:
        dim: C, input and output channels (a multiple of 8).
        deploy: build :class:`LKP` folded; ``bn`` stays, as ``switch_to_deploy`` keeps it (it
            follows SKA, not a convolution it could fold into).
    """

    def __init__(self, dim: int, deploy: bool = False):
        super().__init__()
        self.lkp = LKP(dim, large_kernel=7, small_kernel=3, group_width=8, deploy=deploy)
        self.bn = nn.BatchNorm2d(dim)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        return self.bn(ska(x, self.lkp(x))) + x
