"""Small-kernel aggregation (SKA) and its dispatch to the fastest implementation."""
import importlib.util

import torch
from torch import Tensor

from .ska import check_ska_inputs, ska_torch

# Looked up once, without importing triton (slow to import, and absent from CPU-only set-ups).
HAS_TRITON = importlib.util.find_spec('triton') is not None


def ska(x: Tensor, weights: Tensor) -> Tensor:
    """SKA (see :func:`ska_torch` for the definition), on the fastest implementation.

    CUDA tensors go to the fused Triton kernels of :func:`~.ska_triton.ska_triton` when triton
    is installed: they were faster at every shape and dtype measured, so there is no size
    threshold (the README gives the figures of tools/analysis_tools/benchmark_gpu.py).
    Everything else (CPU, or no triton) runs :func:`ska_torch`, and so does tracing for export
    (TorchScript, ``torch.export`` / the ONNX exporter), which cannot represent a Triton kernel.
    """
    if (x.is_cuda and HAS_TRITON and not torch.jit.is_tracing()
            and not torch.compiler.is_exporting()):
        from .ska_triton import ska_triton
        return ska_triton(x, weights)
    return ska_torch(x, weights)


__all__ = ['check_ska_inputs', 'ska', 'ska_torch']
