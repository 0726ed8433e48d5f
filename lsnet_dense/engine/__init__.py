from .atomic_local_backend import AtomicLocalBackend
from .checkpoint_loader import use_safe_checkpoint_loading
from .compile_hook import CompileHook, compile_hook_config, compile_modules, sizes_apart
from .deploy_hook import SwitchToDeployHook
from .dist import (CPUDistributedDataParallel, distributed, setup_distributed,
                   teardown_distributed)
from .non_finite_loss import (FiniteLossAmpOptimWrapper, FiniteLossOptimWrapper, NonFiniteLossHook,
                              amp_optim_wrapper)
from .preflight import (check_checkpoint, check_datasets, check_pretrained,
                        latest_checkpoint)
from .reseed_hook import ReseedHook
from .run_config import TASK_OF_SCOPE, load_config, load_run_config
from .strict_loading import (StrictLoadHook, check_state_dict_fits,
                             load_model_checkpoint)

__all__ = ['AtomicLocalBackend', 'CompileHook', 'compile_hook_config', 'compile_modules', 'sizes_apart', 'CPUDistributedDataParallel', 'FiniteLossAmpOptimWrapper',
           'amp_optim_wrapper', 'distributed', 'setup_distributed', 'teardown_distributed',
           'FiniteLossOptimWrapper',
           'NonFiniteLossHook', 'ReseedHook', 'StrictLoadHook',
           'SwitchToDeployHook', 'TASK_OF_SCOPE', 'check_checkpoint', 'check_datasets',
           'check_pretrained', 'check_state_dict_fits', 'latest_checkpoint', 'load_config',
           'load_model_checkpoint', 'load_run_config', 'use_safe_checkpoint_loading']
