"""Helpers shared by the tests: random published-shape weights, BatchNorm calibration."""
import math
from pathlib import Path

import torch

from reference_lsnet import bias_index as relative_offset_index

REFERENCE_JSON = Path(__file__).parent / 'data' / 'lsnet_official_state_dict_shapes.json'


def random_state_dict(shapes, seed=0):
    """A state dict with the given shapes and random, well-conditioned values.

    BatchNorm statistics and scales are randomised too, so every branch contributes (the
    published init zeroes some BN scales). Attention-bias indices get their true values.
    """
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in shapes.items():
        if key.endswith('attention_bias_idxs'):
            state[key] = relative_offset_index(math.isqrt(shape[0]))
        elif key.endswith('num_batches_tracked'):
            state[key] = torch.tensor(0)
        elif key.endswith('running_var'):
            state[key] = torch.rand(shape, generator=gen) + 0.5
        elif key.endswith(('running_mean', '.bias')):
            state[key] = torch.randn(shape, generator=gen) * 0.1
        elif key.endswith(('qkv.bn.weight', 'dw.bn.weight', 'pw2.bn.weight', 'proj.1.bn.weight',
                           'mixer.bn.weight')):
            # Modest residual-branch and query/key scales, as in trained networks: full-size
            # random ones make activations grow block after block and saturate the softmax
            # (logits in the hundreds), so float32 rounding gets amplified.
            state[key] = torch.rand(shape, generator=gen) * 0.2 + 0.1
        elif key.endswith('bn.weight') or key.endswith('norm.weight'):
            state[key] = torch.rand(shape, generator=gen) * 0.5 + 0.5
        elif key.endswith('attention_biases'):
            state[key] = torch.randn(shape, generator=gen)
        else:
            fan_in = max(1, int(torch.tensor(shape[1:]).prod())) if len(shape) > 1 else 1
            state[key] = torch.randn(shape, generator=gen) / fan_in**0.5
    return state


@torch.no_grad()
def calibrate_batchnorm(model, x):
    """Set every BatchNorm's running statistics to those of ``x``, as training would.

    Random weights otherwise let activations grow through the blocks far beyond what trained
    networks produce, and float32 comparisons then measure rounding amplification.
    """
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average
        norm.train()
    model(x)
    model.eval()
    return model
