"""Model analysis behind the tools: complexity and speed."""
from .complexity import FLOP_CONVENTION, Complexity, analyze_complexity
from .tensor_forward import TensorForward, synthetic_batch

__all__ = ['FLOP_CONVENTION', 'Complexity', 'TensorForward', 'analyze_complexity',
           'synthetic_batch']
