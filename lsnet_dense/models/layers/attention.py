import itertools
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .conv_bn import build_conv2d_bn


def relative_offset_index(resolution: int) -> Tensor:
    """Index of the offset (|dy|, |dx|) between every pair of points of an R x R grid.

    Points and offsets are enumerated in row-major order, so offset (dy, dx) gets index
    ``dy * R + dx`` and a bias table of shape ``(heads, R*R)`` is an ``R x R`` image per head.

    Returns:
        LongTensor of shape ``(R*R, R*R)``.
    """
    points = list(itertools.product(range(resolution), range(resolution)))
    index = [[abs(p[0] - q[0]) * resolution + abs(p[1] - q[1]) for q in points] for p in points]
    return torch.tensor(index, dtype=torch.long)


def resize_attention_biases(table: Tensor, num_offsets: int) -> Tensor:
    """Resize a ``(heads, r*r)`` relative-position bias table to ``(heads, num_offsets)``.

    The table is an ``r x r`` image per head (offsets in row-major order), resized bicubically.
    """
    heads, stored = table.shape
    src, dst = math.isqrt(stored), math.isqrt(num_offsets)
    if src * src != stored or dst * dst != num_offsets:
        raise ValueError(f'attention bias tables must cover square grids, got {stored} -> '
                         f'{num_offsets} offsets')
    image = table.reshape(1, heads, src, src).float()
    resized = F.interpolate(image, size=(dst, dst), mode='bicubic', align_corners=False)
    return resized.reshape(heads, num_offsets).to(table.dtype)


class Attention(nn.Module):
    """Multi-head self-attention over all pixels, with a learned relative-position bias.

    The bias is learned for a ``resolution x resolution`` grid and resized bicubically to the
    actual number of pixels, so any input size works.

    Args:
        dim: C, input and output channels.
        key_dim: channels per head of queries and keys.
        num_heads: number of heads.
        attn_ratio: value channels per head relative to ``key_dim``.
        resolution: side of the grid the position bias is learned for (14).
        deploy: build the Conv+BN units folded, as after ``switch_to_deploy`` (no BatchNorm).
    """

    def __init__(self, dim: int, key_dim: int, num_heads: int, attn_ratio: float,
                 resolution: int = 14, deploy: bool = False):
        super().__init__()
        self.num_heads = num_heads
        self.scale = key_dim**-0.5
        self.qk_dim = key_dim * num_heads
        self.value_dim = int(attn_ratio * key_dim) * num_heads
        self.qkv = build_conv2d_bn(dim, self.value_dim + 2 * self.qk_dim, deploy=deploy)
        self.dw = build_conv2d_bn(self.qk_dim, self.qk_dim, 3, 1, 1, groups=self.qk_dim,
                                  deploy=deploy)
        self.proj = nn.Sequential(nn.ReLU(), build_conv2d_bn(self.value_dim, dim,
                                                             bn_weight_init=0, deploy=deploy))
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, resolution * resolution))
        self.register_buffer('attention_bias_idxs', relative_offset_index(resolution))
        # Inference reuses the resized bias while the table is unchanged (see position_bias).
        self._bias_cache = None

    @torch.no_grad()
    def resample_position_grid(self, resolution: int):
        """Learn the position bias on a ``resolution x resolution`` grid from now on.

        The current table is resampled bicubically onto the new grid, as when a checkpoint's
        table is loaded for another grid. The published classification models use a 4x4 grid.
        """
        table = resize_attention_biases(self.attention_biases.data, resolution * resolution)
        self.attention_biases = nn.Parameter(table)
        self.attention_bias_idxs = relative_offset_index(resolution).to(table.device)
        self._bias_cache = None

    def position_bias(self, num_tokens: int) -> Tensor:
        """Relative-position bias for ``num_tokens`` pixels, ``(heads, N, N)``.

        Without autograd, on the CPU, the result is cached: gathering and bicubically resizing the
        ``(heads, R*R, R*R)`` table costs as much as the attention itself on small maps. The
        cache is keyed on the table's values, compared in full (``heads * R*R`` numbers, nothing
        beside the resize): whatever writes the table, also through ``.data`` as mmengine's
        ``EMAHook`` does when it swaps the averaged weights in for validation, is seen.
        """
        table = self.attention_biases
        # torch.compile folds the bias into its graph by itself and cannot trace the check. On
        # a GPU the check (torch.equal returns to Python) would make the host wait for the
        # device at every call, which costs more than the small gather and resize it saves.
        use_cache = (not torch.is_grad_enabled() and not torch.compiler.is_compiling()
                     and table.device.type == 'cpu')
        if use_cache and self._bias_cache is not None:
            cached_tokens, cached_table, cached_bias = self._bias_cache
            if (cached_tokens == num_tokens and cached_table.dtype == table.dtype
                    and cached_table.device == table.device
                    and torch.equal(cached_table, table)):
                return cached_bias
        bias = table[:, self.attention_bias_idxs]
        if bias.shape[-1] != num_tokens:
            bias = F.interpolate(bias.unsqueeze(0), size=(num_tokens, num_tokens),
                                 mode='bicubic', align_corners=False).squeeze(0)
        if use_cache:
            self._bias_cache = (num_tokens, table.detach().clone(), bias)
        return bias

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        batch, _, height, width = x.shape
        num_tokens = height * width
        q, k, v = self.qkv(x).split([self.qk_dim, self.qk_dim, self.value_dim], dim=1)
        q = self.dw(q)
        # Channels-first per head, (B * heads, channels per head, N): attention maps are small
        # (N is at most a few hundred tokens at stride 64), and these three batched products
        # take half the time of scaled_dot_product_attention on CPU, whose token-major output
        # would also need a transposing copy back to (B, C, H, W).
        q, k, v = (t.reshape(batch * self.num_heads, -1, num_tokens) for t in (q, k, v))
        bias = self.position_bias(num_tokens).to(q.dtype)
        bias = bias.expand(batch, -1, -1, -1).reshape(batch * self.num_heads, num_tokens,
                                                      num_tokens)
        attn = torch.baddbmm(bias, q.transpose(1, 2), k, alpha=self.scale).softmax(dim=-1)
        out = torch.bmm(v, attn.transpose(1, 2))  # (B * heads, value channels, N)
        return self.proj(out.reshape(batch, self.value_dim, height, width))
