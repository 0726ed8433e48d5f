"""Small-kernel aggregation (SKA): per-pixel, per-group dynamic K x K filtering.

Given features ``x`` of shape ``(B, C, H, W)`` and weights ``w`` of shape ``(B, G, K*K, H, W)``::

    y[b, c, i, j] = sum_{u, v} x[b, c, i + u - p, j + v - p] * w[b, c % G, u * K + v, i, j]

with zero padding ``p = (K - 1) // 2``. Channel ``c`` uses weight group ``c % G``: the groups are
interleaved over channels, not contiguous blocks.
"""
import torch.nn.functional as F
from torch import Tensor


def check_ska_inputs(x: Tensor, weights: Tensor) -> int:
    """Validate the shapes of an SKA call and return the kernel size K."""
    if x.dim() != 4 or weights.dim() != 5:
        raise ValueError(f'SKA expects x (B, C, H, W) and weights (B, G, K*K, H, W), got '
                         f'x {tuple(x.shape)} and weights {tuple(weights.shape)}')
    batch, channels, height, width = x.shape
    w_batch, groups, taps, w_height, w_width = weights.shape
    # The odd K with K*K = taps, found by comparisons rather than math.isqrt: under
    # torch.compile with dynamic shapes the count may be symbolic, and comparing specialises
    # the graph on it (it is a constant of the model).
    kernel_size = 1
    while kernel_size * kernel_size < taps:
        kernel_size += 2
    if kernel_size * kernel_size != taps:
        raise ValueError(f'SKA weights must hold K*K taps for an odd K, got {taps} taps')
    if (w_batch, w_height, w_width) != (batch, height, width):
        raise ValueError(f'SKA weights {tuple(weights.shape)} do not match x {tuple(x.shape)} '
                         'in batch or spatial size')
    if channels % groups != 0:
        raise ValueError(f'SKA: {channels} channels cannot share {groups} weight groups')
    return kernel_size


def ska_torch(x: Tensor, weights: Tensor) -> Tensor:
    """SKA in plain PyTorch, for any device, differentiable through autograd.

    The input is padded once and every tap reads a strided view of it, so no ``K*K``-times copy of
    ``x`` (as ``unfold`` would build) is ever materialised; peak extra memory is about two
    feature maps. Taps accumulate in place with ``addcmul_`` (one fused multiply-add kernel
    per tap instead of a multiply and an add): autograd allows it, because the backward of
    ``addcmul`` needs its two factors, never the accumulator.

    Args:
        x: features, ``(B, C, H, W)``.
        weights: dynamic filters, ``(B, G, K*K, H, W)`` with ``C % G == 0``.

    Returns:
        Tensor of shape ``(B, C, H, W)``.
    """
    kernel_size = check_ska_inputs(x, weights)
    batch, channels, height, width = x.shape
    groups = weights.shape[1]
    pad = (kernel_size - 1) // 2
    # Interleaved groups: channel c = r * G + g uses group g, so split C into (C // G, G).
    x_padded = F.pad(x, (pad, pad, pad, pad)).view(batch, channels // groups, groups,
                                                   height + 2 * pad, width + 2 * pad)
    weights = weights.unsqueeze(1)
    out = x_padded[..., :height, :width] * weights[:, :, :, 0]
    for tap in range(1, kernel_size * kernel_size):
        u, v = divmod(tap, kernel_size)
        out.addcmul_(x_padded[..., u:u + height, v:v + width], weights[:, :, :, tap])
    return out.view(batch, channels, height, width)

