"""Distributed training and testing on machines without CUDA: gloo and DDP over CPU modules.

With CUDA nothing here acts: mmengine's Runner starts NCCL with one GPU per process. Without,
mmengine's launchers (``pytorch``, ``slurm``, ``mpi``) fail in ``torch.cuda.set_device`` and its
model wrapper passes ``device_ids=[LOCAL_RANK]``, which DDP refuses for a CPU module.
:func:`setup_distributed` starts the process group first (mmengine's Runner only starts one when
none exists) and selects :class:`CPUDistributedDataParallel`, torch's DDP through mmengine's
wrapper, for the model. :func:`distributed` wraps a tool's work in both: the set-up, then, on any
device, the end of the process group once the runner is gone (:func:`teardown_distributed`).
"""
import gc
from contextlib import contextmanager
from unittest import mock

import torch
import torch.distributed as dist
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


@contextmanager
def distributed(cfg: Config):
    """Run a block in ``cfg.launcher``'s process group, ending the group when the block succeeds.

    ``with distributed(cfg): work(cfg)``: :func:`setup_distributed` first; after the block,
    :func:`teardown_distributed`. Build the runner inside ``work``, so that nothing refers to it
    once the block ends. When the block raises, the exception goes on without a teardown: the
    other ranks may never reach the final barrier.
    """
    setup_distributed(cfg)
    yield
    teardown_distributed()


def teardown_distributed() -> None:
    """Let every rank finish together, then end the process group while Python is fully alive.

    Call it once the runner is gone. gloo's worker threads stop only when the last reference to
    the process group goes, and DDP (in the runner's reference cycles) holds one. Left running
    into interpreter shutdown, a worker thread that releases a finished collective's tensor
    frees its Python object, so it asks for the GIL; the finalizing interpreter ends that thread
    instead (pthread_exit), and the unwinding through gloo's C++ aborts the process ("terminate
    called without an active exception", exit -6) after a run that succeeded. The barrier keeps
    a rank that finished first from ending before the others, so torchrun's agents meet at
    their exit barrier within seconds. No-op without a process group.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    if dist.get_backend() == 'nccl':
        dist.barrier(device_ids=[torch.cuda.current_device()])
    else:
        dist.barrier()
    gc.collect()  # the runner's cycles: DDP and its reducer go, with their process group
    dist.destroy_process_group()
