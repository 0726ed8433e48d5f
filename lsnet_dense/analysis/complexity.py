"""Parameters and FLOPs of a model by part (backbone, neck, head), with mmengine's FlopAnalyzer.

mmengine counts convolutions, linear layers and matrix products (plus normalisation, upsampling
and pooling) and skips element-wise operators. LSNet computes two things outside those: the
attention inside ``F.scaled_dot_product_attention`` and the SKA taps (element-wise
multiply-adds). Both get handles here, so the count covers all multiply-accumulates.
"""
from collections import Counter
from dataclasses import dataclass, field
from math import prod
from typing import Dict, Sequence, Tuple

import torch.nn as nn
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.analysis.jit_handles import elementwise_flop_counter, get_shape
from torch import Tensor

FLOP_CONVENTION = (
    'FLOPs are multiply-accumulates (1 MAC = 1 FLOP, as fvcore, mmengine and the LSNet paper '
    'count), counted by mmengine\'s FlopAnalyzer: convolutions, linear layers and matrix '
    'products, BatchNorm/GroupNorm (2 per element unless folded), pooling and upsampling; '
    'added here: the q.k and attn.v products inside scaled_dot_product_attention, and '
    'element-wise multiplications (SKA taps, squeeze-excite gates) at 1 per output element. '
    'Not counted: additions, activations, softmax and the operators listed below.')


def sdpa_flop_jit(inputs, outputs) -> int:
    """MACs of ``scaled_dot_product_attention``: ``q @ k^T`` and ``attn @ v``.

    q ``(..., N_q, d_k)``, k ``(..., N_k, d_k)``, v ``(..., N_k, d_v)``:
    ``prod(...) * N_q * N_k * (d_k + d_v)``.
    """
    q_shape, k_shape, v_shape = (get_shape(value) for value in inputs[:3])
    *batch, num_queries, key_dim = q_shape
    return prod(batch) * num_queries * k_shape[-2] * (key_dim + v_shape[-1])


LSNET_FLOP_HANDLES = {
    'aten::scaled_dot_product_attention': sdpa_flop_jit,
    'aten::mul': elementwise_flop_counter(0, 1),
    'aten::addcmul_': elementwise_flop_counter(0, 1),
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
