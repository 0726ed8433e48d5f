"""Checkpoint files: reading them (:mod:`.reading`), and converting the published LSNet files
into ones the toolkit loads strictly (:mod:`lsnet_dense.checkpoints.conversion`, which builds
LSNet models and so is imported on its own)."""
from .reading import load_checkpoint_file, stored_state_dict, strip_wrapper_prefix

__all__ = ['load_checkpoint_file', 'stored_state_dict', 'strip_wrapper_prefix']
