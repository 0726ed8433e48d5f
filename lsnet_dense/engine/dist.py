"""Distributed training and testing on machines without CUDA: gloo and DDP over CPU modules.

With CUDA nothing here acts: mmengine's Runner starts NCCL with one GPU per process. Without,
mmengine's launchers (``pytorch``, ``slurm``, ``mpi``) fail in ``torch.cuda.set_device`` and its
model wrapper passes ``device_ids=[LOCAL_RANK]``, which DDP refuses for a CPU module.
:func:`setup_distributed` starts the process group first (mmengine's Runner only starts one when
none exists) and selects :class:`CPUDistributedDataParallel`, torch's DDP through mmengine's
wrapper, for the model.
"""
from unittest import mock

import torch
from mmengine.config import Config
from mmengine.dist import init_dist, is_distributed
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm
from mmengine.registry import MODEL_WRAPPERS


def setup_distributed(cfg: Config) -> None:
    """Start ``cfg.launcher``'s process group on gloo and pick the CPU model wrapper, without CUDA.

    The runner's own start reads the same config: ``env_cfg.dist_cfg`` (its ``timeout`` in
    seconds bounds how long a rank waits for a dead peer), ``model_wrapper_cfg`` and
    ``find_unused_parameters``. No-op with CUDA, for ``launcher='none'`` and when a process
    group already exists.
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return
    if not is_distributed():
        dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}), backend='gloo')
        # mmengine's launchers set up rank, world size and master address from the launcher's
        # environment (torchrun, srun, mpirun), then select this process's GPU: there is none.
        with mock.patch.object(torch.cuda, 'set_device', lambda device: None):
            init_dist(cfg.launcher, **dist_cfg)
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    if wrapper.get('type', 'MMDistributedDataParallel') == 'MMDistributedDataParallel':
        wrapper['type'] = 'CPUDistributedDataParallel'
    # mmengine's defaults when it builds the wrapper itself (without model_wrapper_cfg).
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """mmengine's DDP wrapper for a module on the CPU (gloo process group).

    DDP takes no ``device_ids`` for a CPU module, so the ones mmengine's runner passes are
    dropped. torch's (and mmcv's) SyncBatchNorm only run on GPUs: they become BatchNorm again,
    each rank normalising with its own batch's statistics, with one warning.

    Args:
        module: the model, on the CPU.
        device_ids: ignored (accepted because mmengine's runner passes them).
        **kwargs: the arguments of :class:`torch.nn.parallel.DistributedDataParallel`.
    """

    def __init__(self, module: torch.nn.Module, device_ids=None, **kwargs):
        synced = [name for name, child in module.named_modules()
                  if type(child).__name__ == 'SyncBatchNorm']
        if synced:
            print_log(f'SyncBatchNorm needs GPUs: {len(synced)} SyncBatchNorm layers (first: '
                      f'{synced[0] or "the model"}) run as BatchNorm on the CPU, each process '
                      'normalising with its own batch', logger='current', level=30)
            module = revert_sync_batchnorm(module)
        super().__init__(module=module, device_ids=None, **kwargs)


def teardown_distributed() -> None:
    """Destroy the process group before the interpreter exits.

    Left to interpreter shutdown, gloo's threads were seen to abort a rank now and then
    ("terminate called without an active exception", exit -6) after a run that succeeded.
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
