from . import checkpoint_loader  # noqa: F401  registers the local checkpoint loader
from .deploy_hook import SwitchToDeployHook
from .preflight import (PreflightError, TASK_OF_SCOPE, check_datasets, check_pretrained,
                        load_config)

__all__ = ['PreflightError', 'SwitchToDeployHook', 'TASK_OF_SCOPE', 'check_datasets',
           'check_pretrained', 'load_config']
