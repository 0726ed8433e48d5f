"""Small-kernel aggregation (SKA) as fused Triton kernels, forward and backward.

Same function as :func:`lsnet_dense.ops.ska.ska_torch`::

    y[b, c, i, j] = sum_{u, v} x[b, c, i + u - p, j + v - p] * w[b, c % G, u * K + v, i, j]

Layout of the work: one program per ``(pixel tile, group g, image b)``. The ``R = C // G``
channels ``c = r * G + g`` that share group ``g`` form the rows of an ``(R, BLOCK_P)`` register
tile, so each of the ``K*K`` weight vectors of the tile is read from memory once and broadcast
over the ``R`` channels, and in the backward pass the weight gradient
``dw[b, g, t, i, j] = sum_r dy[b, r*G+g, i, j] * x[b, r*G+g, shifted by tap t]`` is reduced over
those channels in registers, with no atomics and no intermediate tensor. Pixels are flattened
(``H * W``, contiguous), so every load of a row of the tile is coalesced; the ``K*K`` shifted
reads of ``x`` (and of ``dy`` and ``w`` in the backward pass) overlap within the tile and come
from the cache. One launch per pass: the forward pass moves ``x``, ``w`` and ``y`` once each
(about ``(2 + K*K / R) * C*H*W`` elements), where the ``K*K`` multiply-adds of
:func:`ska_torch` each re-read and re-write the whole output.

Products are accumulated in float32 (float64 for float64 inputs) and stored in the inputs' dtype.
"""
import math
from typing import Tuple

import torch
import triton
import triton.language as tl
from torch import Tensor
from torch.library import triton_op, wrap_triton

from .ska import check_ska_inputs

SUPPORTED_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)

# Elements of one (R, BLOCK_P) register tile, and warps per program. Measured on an H100 over
# 20 settings (tiles of 512-8192 elements, 1-8 warps; forward + backward) at LSNet-T's SKA
# shapes at 1333x800, LSNet-B's stride-8 one and a 256-image batch at 224x224, each in float32
# and float16: 1024 elements (8 channels x 128 pixels for LSNet's C // G = 8) with 4 warps was
# among the four fastest in 6 of those 8 cases and at most 9% slower than the fastest where
# listed; the spread between settings is small (about 10%).
TILE_ELEMENTS = 1024
NUM_WARPS = 4


@triton.jit
def _ska_forward_kernel(x_ptr, w_ptr, y_ptr, channels, groups, rows, height, width,
                        KERNEL: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_P: tl.constexpr,
                        ACC_DTYPE: tl.constexpr):
    pid_p = tl.program_id(0)
    group = tl.program_id(1)
    batch = tl.program_id(2).to(tl.int64)
    pixels = height * width
    pad: tl.constexpr = (KERNEL - 1) // 2

    pix = pid_p * BLOCK_P + tl.arange(0, BLOCK_P)
    pix_mask = pix < pixels
    row_idx = pix // width
    col_idx = pix % width
    r = tl.arange(0, BLOCK_R)
    r_mask = r < rows
    # Planes of the channels r * G + g of image b, and of group g's first tap.
    x_planes = (batch * channels + r * groups + group) * pixels
    w_plane = (batch * groups + group) * (KERNEL * KERNEL) * pixels

    acc = tl.zeros((BLOCK_R, BLOCK_P), dtype=ACC_DTYPE)
    for tap in tl.static_range(KERNEL * KERNEL):
        du = tap // KERNEL - pad
        dv = tap % KERNEL - pad
        src_row = row_idx + du
        src_col = col_idx + dv
        inside = pix_mask & (src_row >= 0) & (src_row < height) & (src_col >= 0) & (src_col < width)
        w_tap = tl.load(w_ptr + w_plane + tap * pixels + pix, mask=pix_mask, other=0.)
        x_tap = tl.load(x_ptr + x_planes[:, None] + (pix + du * width + dv)[None, :],
                        mask=r_mask[:, None] & inside[None, :], other=0.)
        acc += x_tap.to(ACC_DTYPE) * w_tap.to(ACC_DTYPE)[None, :]
    tl.store(y_ptr + x_planes[:, None] + pix[None, :], acc.to(y_ptr.dtype.element_ty),
             mask=r_mask[:, None] & pix_mask[None, :])


@triton.jit
def _ska_backward_kernel(x_ptr, w_ptr, grad_y_ptr, grad_x_ptr, grad_w_ptr,
                         channels, groups, rows, height, width,
                         KERNEL: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_P: tl.constexpr,
                         ACC_DTYPE: tl.constexpr, NEED_GRAD_X: tl.constexpr,
                         NEED_GRAD_W: tl.constexpr):
    pid_p = tl.program_id(0)
    group = tl.program_id(1)
    batch = tl.program_id(2).to(tl.int64)
    pixels = height * width
    pad: tl.constexpr = (KERNEL - 1) // 2

    pix = pid_p * BLOCK_P + tl.arange(0, BLOCK_P)
    pix_mask = pix < pixels
    row_idx = pix // width
    col_idx = pix % width
    r = tl.arange(0, BLOCK_R)
    r_mask = r < rows
    x_planes = (batch * channels + r * groups + group) * pixels
    w_plane = (batch * groups + group) * (KERNEL * KERNEL) * pixels

    if NEED_GRAD_W:
        grad_y = tl.load(grad_y_ptr + x_planes[:, None] + pix[None, :],
                         mask=r_mask[:, None] & pix_mask[None, :], other=0.).to(ACC_DTYPE)
    grad_x = tl.zeros((BLOCK_R, BLOCK_P), dtype=ACC_DTYPE)
    for tap in tl.static_range(KERNEL * KERNEL):
        du = tap // KERNEL - pad
        dv = tap % KERNEL - pad
        if NEED_GRAD_W:
            # dw[t] at this pixel: dy here times x at the pixel tap t read, summed over the R
            # channels of the group.
            src_row = row_idx + du
            src_col = col_idx + dv
            inside = (pix_mask & (src_row >= 0) & (src_row < height) & (src_col >= 0)
                      & (src_col < width))
            x_tap = tl.load(x_ptr + x_planes[:, None] + (pix + du * width + dv)[None, :],
                            mask=r_mask[:, None] & inside[None, :], other=0.).to(ACC_DTYPE)
            tl.store(grad_w_ptr + w_plane + tap * pixels + pix,
                     tl.sum(grad_y * x_tap, axis=0).to(grad_w_ptr.dtype.element_ty),
                     mask=pix_mask)
        if NEED_GRAD_X:
            # dx here: the output pixel q = here - (du, dv) read this pixel through tap t.
            dst_row = row_idx - du
            dst_col = col_idx - dv
            inside = (pix_mask & (dst_row >= 0) & (dst_row < height) & (dst_col >= 0)
                      & (dst_col < width))
            q = pix - du * width - dv
            w_q = tl.load(w_ptr + w_plane + tap * pixels + q, mask=inside, other=0.)
            grad_y_q = tl.load(grad_y_ptr + x_planes[:, None] + q[None, :],
                               mask=r_mask[:, None] & inside[None, :], other=0.)
            grad_x += grad_y_q.to(ACC_DTYPE) * w_q.to(ACC_DTYPE)[None, :]
    if NEED_GRAD_X:
        tl.store(grad_x_ptr + x_planes[:, None] + pix[None, :],
                 grad_x.to(grad_x_ptr.dtype.element_ty),
                 mask=r_mask[:, None] & pix_mask[None, :])


def _launch_config(rows: int, pixels, tile_elements: int = TILE_ELEMENTS):
    """Block sizes: all R channels of a group in one tile, as many pixels as fit beside them.

    ``pixels`` may be symbolic (torch.compile with dynamic sizes): it is only compared, so a
    compiled graph is specialised on nothing but whether the map fills one tile.
    """
    block_r = triton.next_power_of_2(rows)
    block_p = max(16, tile_elements // block_r)
    if pixels < block_p:
        block_p = max(16, triton.next_power_of_2(int(pixels)))
    return block_r, block_p


def _launch(kernel, x: Tensor, weights: Tensor, tensors, tile_elements: int, num_warps: int,
            **flags):
    batch, channels, height, width = x.shape
    groups, taps = weights.shape[1], weights.shape[2]
    rows = channels // groups
    block_r, block_p = _launch_config(rows, height * width, tile_elements)
    grid = (triton.cdiv(height * width, block_p), groups, batch)
    acc_dtype = tl.float64 if x.dtype == torch.float64 else tl.float32
    # wrap_triton: called eagerly it launches the kernel; traced (torch.compile, export) it
    # puts the kernel into the graph.
    wrap_triton(kernel)[grid](*tensors, channels, groups, rows, height, width,
                              KERNEL=math.isqrt(taps), BLOCK_R=block_r, BLOCK_P=block_p,
                              ACC_DTYPE=acc_dtype, num_warps=num_warps, **flags)


def ska_forward(x: Tensor, weights: Tensor, tile_elements: int = TILE_ELEMENTS,
                num_warps: int = NUM_WARPS) -> Tensor:
    """Forward kernel alone on contiguous inputs of one dtype (no autograd)."""
    out = torch.empty_like(x)
    if out.numel():
        _launch(_ska_forward_kernel, x, weights, (x, weights, out), tile_elements, num_warps)
    return out


def ska_backward(x: Tensor, weights: Tensor, grad_out: Tensor, need_grad_x: bool = True,
                 need_grad_w: bool = True, tile_elements: int = TILE_ELEMENTS,
                 num_warps: int = NUM_WARPS):
    """Backward kernel alone: ``(grad_x, grad_w)``, ``None`` for a gradient not asked for."""
    grad_x = torch.empty_like(x) if need_grad_x else None
    grad_w = torch.empty_like(weights) if need_grad_w else None
    if x.numel() and (need_grad_x or need_grad_w):
        # A pointer is still passed for a gradient that is not computed; the kernel never
        # touches it (NEED_GRAD_* are compile-time constants).
        _launch(_ska_backward_kernel, x, weights,
                (x, weights, grad_out, grad_x if need_grad_x else x,
                 grad_w if need_grad_w else weights),
                tile_elements, num_warps, NEED_GRAD_X=need_grad_x, NEED_GRAD_W=need_grad_w)
    return grad_x, grad_w


# As torch.library operators, torch.compile keeps the kernels in its graph (no graph break)
# and inductor can see into them. The fake (shape-only) versions are registered explicitly, so
# that tracing never has to run a kernel, also under Triton's CPU interpreter.
@triton_op('lsnet_dense::ska_triton', mutates_args=())
def ska_triton_op(x: Tensor, weights: Tensor) -> Tensor:
    return ska_forward(x, weights)


@ska_triton_op.register_fake
def _(x: Tensor, weights: Tensor) -> Tensor:
    return torch.empty_like(x)


@triton_op('lsnet_dense::ska_triton_backward', mutates_args=())
def ska_triton_backward_op(x: Tensor, weights: Tensor, grad_out: Tensor, need_grad_x: bool,
                           need_grad_w: bool) -> Tuple[Tensor, Tensor]:
    """``(grad_x, grad_w)``; a gradient not asked for is an empty tensor (an operator cannot
    return ``None``)."""
    grad_x, grad_w = ska_backward(x, weights, grad_out, need_grad_x, need_grad_w)
    return (x.new_empty(0) if grad_x is None else grad_x,
            weights.new_empty(0) if grad_w is None else grad_w)


@ska_triton_backward_op.register_fake
def _(x, weights, grad_out, need_grad_x, need_grad_w):
    return (torch.empty_like(x) if need_grad_x else x.new_empty(0),
            torch.empty_like(weights) if need_grad_w else weights.new_empty(0))


def _save_inputs(ctx, inputs, output):
    ctx.save_for_backward(*inputs)


def _backward(ctx, grad_out: Tensor):
    x, weights = ctx.saved_tensors
    need_grad_x, need_grad_w = ctx.needs_input_grad
    grad_x, grad_w = ska_triton_backward_op(x, weights, grad_out.contiguous(), need_grad_x,
                                            need_grad_w)
    return grad_x if need_grad_x else None, grad_w if need_grad_w else None


ska_triton_op.register_autograd(_backward, setup_context=_save_inputs)


def ska_triton(x: Tensor, weights: Tensor) -> Tensor:
    """SKA through the fused Triton kernels, differentiable.

    Args:
        x: features, ``(B, C, H, W)``, on a device Triton compiles for (CUDA), or on the CPU
            under Triton's interpreter (``TRITON_INTERPRET=1``).
        weights: dynamic filters, ``(B, G, K*K, H, W)`` with ``C % G == 0``.

    Returns:
        Tensor of shape ``(B, C, H, W)`` in the promoted dtype of ``x`` and ``weights`` (under
        autocast LSNet mixes float32 features with half-precision filters, as
        :func:`ska_torch`'s element-wise products would).
    """
    check_ska_inputs(x, weights)
    dtype = torch.promote_types(x.dtype, weights.dtype)
    if dtype not in SUPPORTED_DTYPES:
        raise TypeError(f'ska_triton supports {", ".join(map(str, SUPPORTED_DTYPES))}; got x '
                        f'{x.dtype} and weights {weights.dtype}')
    if x.device != weights.device:
        raise ValueError(f'SKA: x is on {x.device} but weights on {weights.device}')
    return ska_triton_op(x.to(dtype).contiguous(), weights.to(dtype).contiguous())
