"""Parameters and FLOPs of a model by part (backbone, neck, head), with mmengine's FlopAnalyzer.

mmengine counts convolutions, linear layers and matrix products (plus normalisation, upsampling
and pooling) and skips element-wise operators. LSNet computes two things outside those: the
attention's ``q^T k`` product with its position bias added (``torch.baddbmm``) and the SKA taps
(element-wise multiply-adds). Both get handles here, so the count covers all
multiply-accumulates.
"""
from collections import Counter
from dataclasses import dataclass, field
from math import prod
from typing import Dict, Sequence, Tuple

import torch.nn as nn
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.analysis.jit_handles import bmm_flop_jit, get_shape
from torch import Tensor

FLOP_CONVENTION = (
    'FLOPs are multiply-accumulates (1 MAC = 1 FLOP, as fvcore, mmengine and the LSNet paper '
    'count), counted by mmengine\'s FlopAnalyzer: convolutions, linear layers and matrix '
    'products, BatchNorm/GroupNorm (2 per element unless folded), pooling and upsampling; '
    'added here: the attention\'s q.k product (baddbmm; attn.v is a bmm, counted anyway) and '
    'element-wise multiplications (SKA taps, squeeze-excite gates) at 1 per output element. '
    'Not counted: additions, activations, softmax and the operators listed below.')


def baddbmm_flop_jit(inputs, outputs) -> int:
    """MACs of ``baddbmm(input, b1, b2)``: those of ``b1 @ b2``, ``(B, n, k) @ (B, k, m)``."""
    return bmm_flop_jit(inputs[1:3], outputs)


def multiply_flop_jit(inputs, outputs) -> int:
    """One MAC per output element of an element-wise multiplication.

    Zero-dimensional products are shape arithmetic (e.g. ``H * W``) recorded by the tracer,
    not work of the model.
    """
    shape = get_shape(outputs[0])
    return prod(shape) if shape else 0


LSNET_FLOP_HANDLES = {
    'aten::baddbmm': baddbmm_flop_jit,
    'aten::mul': multiply_flop_jit,
    'aten::addcmul_': multiply_flop_jit,
}


@dataclass
class Complexity:
    """Counts of one model at one input size.

    Attributes:
        parts: part name -> ``(parameters, FLOPs)``; the parts sum to the totals except for
            operators run outside every part (e.g. a classifier's pooling), under ``'other'``.
        params: parameters of the whole model.
        flops: FLOPs of the whole model.
        uncounted: operators met in the trace that have no FLOP handle, with their call count.
    """

    parts: Dict[str, Tuple[int, int]]
    params: int
    flops: int
    uncounted: Counter = field(default_factory=Counter)


def analyze_complexity(model: nn.Module, inputs: Tuple[Tensor, ...],
                       parts: Dict[str, Sequence[str]]) -> Complexity:
    """Count parameters and FLOPs of ``model(*inputs)``, grouped into parts.

    Args:
        model: the module to trace (eval mode is the caller's choice).
        inputs: its forward arguments.
        parts: part name -> names of the modules (as in ``named_modules``) it consists of.

    Returns:
        The :class:`Complexity`.
    """
    analyzer = FlopAnalyzer(model, inputs)
    analyzer.set_op_handle(**LSNET_FLOP_HANDLES)
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    flops_by_module = analyzer.by_module()
    params_by_module = parameter_count(model)
    counts = {name: (sum(params_by_module.get(m, 0) for m in modules),
                     sum(flops_by_module.get(m, 0) for m in modules))
              for name, modules in parts.items()}
    total_params, total_flops = params_by_module[''], analyzer.total()
    outside = total_flops - sum(flops for _, flops in counts.values())
    if outside:
        counts['other'] = (total_params - sum(params for params, _ in counts.values()), outside)
    return Complexity(counts, total_params, total_flops, analyzer.unsupported_ops())
