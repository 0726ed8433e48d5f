"""A small DDP training run through mmengine's Runner, for the tests of
tests/test_engine/test_distributed.py.

Started once per rank by torchrun (``--launcher pytorch``) or by a test standing in for srun
(``--launcher slurm``). The model is a few convolutions, so a run takes seconds; the set-up is
the toolkit's: :func:`distributed` (set-up and teardown), the guarded optimizer wrapper and NonFiniteLossHook.

    python -m torch.distributed.run --nproc_per_node 2 tests/test_engine/dist_toy_run.py OUT.json \
        [--nan-rank R --nan-iter I] [--skip] [--kill-rank R --kill-iter I]
        [--abort-at-exit-rank R]

Rank 0 writes OUT.json: per rank, the iterations whose step the guard skipped and whether the
parameters changed in each iteration, and whether the ranks' parameters are equal at the end.
With --abort-at-exit-rank, that rank aborts (SIGABRT) once its work is done, at interpreter exit,
writing the time to OUT.json.aborted.
"""
import argparse
import atexit
import json
import os
import os.path as osp
import signal
import time

import torch
from mmengine.config import Config
from mmengine.dist import all_gather_object, get_rank
from mmengine.hooks import Hook
from mmengine.model import BaseModel, is_model_wrapper
from mmengine.registry import DATASETS, HOOKS, MODELS
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

from lsnet_dense.engine import distributed


@MODELS.register_module()
class ToyRegressor(BaseModel):
    """Two convolutions and a linear layer regressing a scalar per 3x8x8 image."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(8, 8, 3, padding=1), nn.AdaptiveAvgPool2d(1),
                                 nn.Flatten(), nn.Linear(8, 1))
        self.poison_next = False  # set by InjectNaNHook: the next loss is NaN

    def forward(self, inputs, target, mode='loss'):
        loss = ((self.net(inputs).flatten() - target) ** 2).mean()
        if self.poison_next:
            self.poison_next = False
            loss = loss * float('nan')
        return dict(loss=loss)


@DATASETS.register_module()
class ToyImages(Dataset):
    """Deterministic random images and targets, the same on every rank."""

    def __init__(self, size=32):
        gen = torch.Generator().manual_seed(0)
        self.images = torch.randn(size, 3, 8, 8, generator=gen)
        self.targets = torch.randn(size, generator=gen)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return dict(inputs=self.images[index], target=self.targets[index])


def unwrap(runner):
    return runner.model.module if is_model_wrapper(runner.model) else runner.model


def parameters(runner):
    return torch.cat([p.detach().flatten().clone() for p in unwrap(runner).parameters()])


@HOOKS.register_module()
class RecordHook(Hook):
    """Records, per iteration, whether the guard skipped the step and whether parameters moved;
    poisons the loss of rank ``nan_rank`` at ``nan_iter``; kills rank ``kill_rank`` at
    ``kill_iter`` (SIGKILL, as a crash would), writing the time of death to ``kill_file``."""

    priority = 'LOWEST'

    def __init__(self, out, nan_rank=-1, nan_iter=-1, kill_rank=-1, kill_iter=-1):
        self.out, self.nan_rank, self.nan_iter = out, nan_rank, nan_iter
        self.kill_rank, self.kill_iter = kill_rank, kill_iter
        self.skipped, self.moved, self.before = [], [], None

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        iteration = runner.iter + 1
        if get_rank() == self.kill_rank and iteration == self.kill_iter:
            with open(self.out + '.killed', 'w') as f:
                f.write(str(time.time()))
            os.kill(os.getpid(), signal.SIGKILL)
        if get_rank() == self.nan_rank and iteration == self.nan_iter:
            unwrap(runner).poison_next = True
        self.before = parameters(runner)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.optim_wrapper.nonfinite_ranks:
            self.skipped.append(runner.iter + 1)
        self.moved.append(bool((parameters(runner) != self.before).any()))

    def after_train(self, runner):
        records = all_gather_object(dict(skipped=self.skipped, moved=self.moved,
                                         parameters=parameters(runner).tolist()))
        if get_rank() == 0:
            with open(self.out, 'w') as f:
                json.dump(dict(world_size=len(records),
                               skipped=[r['skipped'] for r in records],
                               moved=[r['moved'] for r in records],
                               equal=all(r['parameters'] == records[0]['parameters']
                                         for r in records)), f)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('out')
    parser.add_argument('--launcher', default='pytorch')
    parser.add_argument('--iters', type=int, default=4)
    parser.add_argument('--skip', action='store_true')
    for name in ('nan-rank', 'nan-iter', 'kill-rank', 'kill-iter', 'abort-at-exit-rank'):
        parser.add_argument(f'--{name}', type=int, default=-1)
    args = parser.parse_args()
    cfg = Config(dict(
        model=dict(type='ToyRegressor'),
        work_dir=osp.join(osp.dirname(args.out), 'work'),
        train_dataloader=dict(dataset=dict(type='ToyImages'), batch_size=2, num_workers=0,
                              sampler=dict(type='DefaultSampler', shuffle=False),
                              collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=False, max_iters=args.iters),
        optim_wrapper=dict(type='FiniteLossOptimWrapper', optimizer=dict(type='SGD', lr=0.1)),
        # NonFiniteLossHook under the configs' key (configs/_base_/det_runtime.py).
        default_hooks=dict(checkpoint=None,
                           non_finite_loss=dict(type='NonFiniteLossHook', skip=args.skip)),
        custom_hooks=[dict(type='RecordHook', out=args.out, nan_rank=args.nan_rank,
                           nan_iter=args.nan_iter, kill_rank=args.kill_rank,
                           kill_iter=args.kill_iter)],
        randomness=dict(seed=0),
        launcher=args.launcher))
    with distributed(cfg):
        Runner.from_cfg(cfg).train()
        rank = get_rank()
    if rank == args.abort_at_exit_rank:
        atexit.register(abort, args.out + '.aborted')


def abort(time_file):
    with open(time_file, 'w') as f:
        f.write(str(time.time()))
    os.abort()


if __name__ == '__main__':
    main()
