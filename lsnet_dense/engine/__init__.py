from . import checkpoint_loader  # noqa: F401  registers the local checkpoint loader
from .atomic_local_backend import AtomicLocalBackend
from .deploy_hook import SwitchToDeployHook
from .non_finite_loss import FiniteLossOptimWrapper, NonFiniteLossHook
from .preflight import (PreflightError, TASK_OF_SCOPE, check_checkpoint, check_datasets,
                        check_pretrained, load_config, load_run_config)
from .reseed_hook import ReseedHook

__all__ = ['AtomicLocalBackend', 'FiniteLossOptimWrapper', 'NonFiniteLossHook', 'PreflightError',
           'ReseedHook', 'SwitchToDeployHook', 'TASK_OF_SCOPE', 'check_checkpoint', 'check_datasets',
           'check_pretrained', 'load_config', 'load_run_config']
