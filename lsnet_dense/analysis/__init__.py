"""Model analysis behind the tools: building models from configs, complexity and speed."""
from .complexity import FLOP_CONVENTION, Complexity, analyze_complexity
from .model_builder import TensorForward, build_model_from_config, synthetic_batch

__all__ = ['FLOP_CONVENTION', 'Complexity', 'TensorForward', 'analyze_complexity',
           'build_model_from_config', 'synthetic_batch']
