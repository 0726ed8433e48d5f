"""--resume of an iteration-based run (segmentation): it continues at the next iteration, with
the losses and weights of the run that was never stopped.

mmengine re-reads the data up to the resume point of an iteration-based run, which draws the
random streams anew, so the first iteration after a resume gets other augmentations and dropout
masks (the README's Reproducibility note). The runs here draw nothing at random (fixed resize, no
flip, no dropout) so that what --resume restores (weights, optimizer, schedules, data order) is
compared bit for bit.
"""
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
import torch

from lsnet_dense.checkpoints import load_checkpoint_file
from lsnet_dense.datasets.demo_ade20k import generate_demo_ade20k
from helpers import ROOT, logged_losses

SEG_CONFIG = osp.join(ROOT, 'configs', 'demo', 'semfpn_lsnet_t_demo_ade20k.py')
WITHOUT_RANDOMNESS = f'''
_base_ = {SEG_CONFIG!r}
model = dict(decode_head=dict(dropout_ratio=0.0))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='Resize', scale=(128, 128), keep_ratio=False),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
'''
ITERS = 4
STOP = 2  # the iteration after which the stopped run's last checkpoint was saved


def train(config, root, work_dir, *flags):
    """tools/train.py on the tiny dataset for ITERS iterations of 2 images (shuffled), every
    loss logged, a checkpoint every STOP iterations."""
    result = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'train.py'), config, '--work-dir', work_dir,
         '--seed', '0', '--deterministic', *flags, '--cfg-options',
         f'train_dataloader.dataset.data_root={root}', 'train_dataloader.batch_size=2',
         'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
         f'train_cfg.max_iters={ITERS}', f'train_cfg.val_interval={ITERS + 1}', 'val_cfg=None',
         'val_dataloader=None', 'val_evaluator=None', 'default_hooks.logger.interval=1',
         f'default_hooks.checkpoint.interval={STOP}', 'default_hooks.checkpoint.max_keep_ckpts=-1'],
        cwd=ROOT, capture_output=True, text=True,
        env=dict(os.environ, PYTHONWARNINGS='ignore', OMP_NUM_THREADS='1'))
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """The uninterrupted run, and a run stopped after iteration STOP (its work dir holds what
    such a run leaves: the checkpoint of iteration STOP and last_checkpoint naming it), resumed
    with a plain --resume."""
    tmp_path = tmp_path_factory.mktemp('seg_resume')
    root = str(tmp_path / 'ade')
    generate_demo_ade20k(root, num_train=4, num_val=1, seed=3)
    config = tmp_path / 'seg_cfg.py'
    config.write_text(WITHOUT_RANDOMNESS)
    whole, stopped = str(tmp_path / 'whole'), str(tmp_path / 'stopped')
    train(str(config), root, whole)
    os.makedirs(stopped)
    shutil.copy(osp.join(whole, f'iter_{STOP}.pth'), stopped)
    with open(osp.join(stopped, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(stopped, f'iter_{STOP}.pth'))
    output = train(str(config), root, stopped, '--resume')
    return whole, stopped, output


def test_resumed_iteration_run_continues_at_the_next_iteration(runs):
    _, stopped, output = runs
    assert f'resumed epoch: 0, iter: {STOP}' in output
    assert f'Iter(train) [{STOP + 1}/{ITERS}]' in output
    assert f'Iter(train) [{STOP}/{ITERS}]' not in output  # no iteration trained twice
    checkpoint = load_checkpoint_file(osp.join(stopped, f'iter_{ITERS}.pth'))
    assert checkpoint['meta']['iter'] == ITERS


def test_resumed_iteration_run_has_the_uninterrupted_losses_and_weights(runs):
    whole, stopped, _ = runs
    reference, resumed = logged_losses(whole), logged_losses(stopped)
    assert sorted(reference) == list(range(1, ITERS + 1))
    assert sorted(resumed) == list(range(STOP + 1, ITERS + 1))
    assert all(resumed[i] == reference[i] for i in resumed), (resumed, reference)
    final = [load_checkpoint_file(osp.join(work_dir, f'iter_{ITERS}.pth'))
             for work_dir in (whole, stopped)]
    differing = [key for key, value in final[0]['state_dict'].items()
                 if not torch.equal(value, final[1]['state_dict'][key])]
    assert differing == []
    # The weights did move after the resume point: the comparison is not of untouched tensors.
    at_stop = load_checkpoint_file(osp.join(whole, f'iter_{STOP}.pth'))['state_dict']
    assert any(not torch.equal(value, at_stop[key]) for key, value in final[0]['state_dict'].items()
               if value.is_floating_point())
