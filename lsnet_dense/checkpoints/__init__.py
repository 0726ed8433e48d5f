"""Checkpoint files: reading them safely (:mod:`.reading`, :mod:`.allowlist`), and converting the published LSNet files
into ones the toolkit loads strictly (:mod:`lsnet_dense.checkpoints.conversion`, which builds
LSNet models and so is imported on its own)."""
from .reading import (TRUST_ENV, load_checkpoint_file, stored_state_dict, strip_wrapper_prefix,
                      trusted_by_environment)

__all__ = ['TRUST_ENV', 'load_checkpoint_file', 'stored_state_dict', 'strip_wrapper_prefix',
           'trusted_by_environment']
