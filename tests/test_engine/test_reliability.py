"""Interrupted training, bad checkpoints and configs, non-finite losses, determinism."""
import glob
import json
import os
import os.path as osp
import signal
import stat
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.fileio import LocalBackend

from lsnet_dense import LSNet
from lsnet_dense.apis import build_model_from_config
from lsnet_dense.checkpoints import load_checkpoint_file
from lsnet_dense.datasets import generate_demo_coco
from lsnet_dense.engine import AtomicLocalBackend
from helpers import ROOT, logged_losses, refusal_of

DEMO_CONFIG = osp.join(ROOT, 'configs', 'demo', 'retinanet_lsnet_t_demo.py')


@pytest.fixture(scope='module')
def tiny_coco(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('coco'))
    generate_demo_coco(root, num_train=8, num_val=2, height=96, width=96, seed=2)
    return root


def train_command(root, work_dir, epochs, flags=(), options=()):
    """tools/train.py on the tiny dataset: 2 iterations an epoch, every loss logged."""
    return [sys.executable, osp.join(ROOT, 'tools', 'train.py'), DEMO_CONFIG, '--work-dir',
            work_dir, '--seed', '0', '--deterministic', *flags, '--cfg-options',
            f'train_dataloader.dataset.data_root={root}/', 'train_dataloader.batch_size=4',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs + 1}',
            'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
            'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=1',
            'default_hooks.checkpoint.max_keep_ckpts=-1', *options]


def run(command, **kwargs):
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, **kwargs)


# tools/train.py whose rename of epoch_2.pth into place hangs after writing a marker file: the
# test kills it there, in the middle of saving that checkpoint.
HANG_WHILE_SAVING = """
import os, runpy, sys, time
replace = os.replace
def replace_or_hang(source, target):
    if str(target).endswith('epoch_2.pth'):
        open(os.environ['SAVING_MARKER'], 'w').close()
        time.sleep(600)
    replace(source, target)
os.replace = replace_or_hang
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
"""


@pytest.fixture(scope='module')
def killed_run(tiny_coco, tmp_path_factory):
    """An uninterrupted run of 4 epochs, and the same run (same seed) killed while it saved its
    second checkpoint, as the kill left it."""
    tmp_path = tmp_path_factory.mktemp('killed_run')
    epochs = 4
    reference = run(train_command(tiny_coco, str(tmp_path / 'whole'), epochs))
    assert reference.returncode == 0, reference.stderr[-2000:]

    work_dir = str(tmp_path / 'killed')
    marker = str(tmp_path / 'saving')
    env = dict(os.environ, PYTHONWARNINGS='ignore', SAVING_MARKER=marker)
    command = train_command(tiny_coco, work_dir, epochs)
    process = subprocess.Popen([command[0], '-c', HANG_WHILE_SAVING, *command[1:]], cwd=ROOT,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not osp.exists(marker) and process.poll() is None:
        assert time.time() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)  # while saving epoch_2.pth, with no chance to clean up
    process.wait()
    assert osp.exists(marker), 'the run ended before saving its second checkpoint'
    return SimpleNamespace(epochs=epochs, whole=str(tmp_path / 'whole'), work_dir=work_dir,
                           killed_losses=logged_losses(work_dir))


def test_same_seed_gives_identical_losses(killed_run):
    """Two runs from scratch with the same seed: the uninterrupted one, and the killed one up to
    its kill (iterations 1-4)."""
    whole = logged_losses(killed_run.whole)
    assert sorted(killed_run.killed_losses) == [1, 2, 3, 4]
    assert all(killed_run.killed_losses[i] == whole[i] for i in (1, 2, 3, 4))


def test_run_killed_while_saving_resumes_to_the_same_losses(tiny_coco, killed_run):
    work_dir, epochs = killed_run.work_dir, killed_run.epochs
    assert not osp.exists(osp.join(work_dir, 'epoch_2.pth'))
    assert glob.glob(osp.join(work_dir, '.partial-*'))  # the kill left the temporary file
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read().strip() == osp.join(work_dir, 'epoch_1.pth')
    load_checkpoint_file(osp.join(work_dir, 'epoch_1.pth'))  # still loadable

    resumed = run(train_command(tiny_coco, work_dir, epochs, flags=['--resume']))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert not glob.glob(osp.join(work_dir, '.partial-*'))  # removed by the next save
    for epoch in range(1, epochs + 1):
        load_checkpoint_file(osp.join(work_dir, f'epoch_{epoch}.pth'))
    whole, interrupted = logged_losses(killed_run.whole), logged_losses(work_dir)
    assert max(interrupted) == max(whole) == 2 * epochs
    # After the resume point (epoch 1 done) the losses are the uninterrupted run's.
    assert all(interrupted[i] == whole[i] for i in range(3, 2 * epochs + 1))


def test_atomic_checkpoint_write_keeps_previous_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / 'epoch_1.pth'
    backend = AtomicLocalBackend()
    backend.put(b'good checkpoint', str(target))

    def die(*args):
        raise KeyboardInterrupt  # as if the process were stopped before the rename

    monkeypatch.setattr(os, 'replace', die)
    with pytest.raises(KeyboardInterrupt):
        backend.put(b'half', str(target))
    assert target.read_bytes() == b'good checkpoint'
    assert os.listdir(tmp_path) == ['epoch_1.pth']  # no partial file left behind


@pytest.mark.parametrize('umask', [0o022, 0o002, 0o077])
def test_atomic_checkpoint_mode_follows_the_umask_as_mmengine(umask, tmp_path):
    previous = os.umask(umask)
    try:
        AtomicLocalBackend().put(b'checkpoint', str(tmp_path / 'atomic.pth'))
        LocalBackend().put(b'checkpoint', str(tmp_path / 'plain.pth'))
    finally:
        os.umask(previous)
    modes = [stat.S_IMODE(os.stat(tmp_path / name).st_mode) for name in ('atomic.pth',
                                                                         'plain.pth')]
    assert modes == [0o666 & ~umask] * 2


def test_abandoned_partial_files_are_removed_by_the_next_write(tmp_path):
    finished = subprocess.Popen([sys.executable, '-c', 'pass'])
    finished.wait()
    abandoned = [f'.partial-{finished.pid}.0a1b2c3d.epoch_3.pth', '.partial-k2j3_h4x']
    running = f'.partial-{os.getppid()}.0a1b2c3d.epoch_3.pth'  # a live writer's: kept
    for name in abandoned + [running]:
        (tmp_path / name).write_bytes(b'half')
    AtomicLocalBackend().put(b'checkpoint', str(tmp_path / 'epoch_4.pth'))
    assert sorted(os.listdir(tmp_path)) == sorted([running, 'epoch_4.pth'])


def test_atomic_write_flushes_the_folder_after_the_rename(tmp_path, monkeypatch):
    events = []
    fsync, replace = os.fsync, os.replace

    def recording_fsync(handle):
        is_folder = stat.S_ISDIR(os.fstat(handle).st_mode)
        events.append(('fsync', 'folder' if is_folder else 'file'))
        fsync(handle)

    def recording_replace(source, target):
        events.append(('replace', osp.basename(target)))
        replace(source, target)

    monkeypatch.setattr(os, 'fsync', recording_fsync)
    monkeypatch.setattr(os, 'replace', recording_replace)
    AtomicLocalBackend().put(b'checkpoint', str(tmp_path / 'epoch_1.pth'))
    assert events == [('fsync', 'file'), ('replace', 'epoch_1.pth'), ('fsync', 'folder')]


def test_checkpoints_are_written_atomically_by_the_configs():
    for name in ('retinanet_lsnet_t_coco.py', 'mask_rcnn_lsnet_b_coco.py'):
        cfg = Config.fromfile(osp.join(ROOT, 'configs', name))
        assert cfg.default_hooks.checkpoint.backend_args == dict(backend='atomic_local')


def test_non_finite_loss_stops_training_naming_iteration_and_term(tiny_coco, tmp_path):
    result = run(train_command(tiny_coco, str(tmp_path / 'nan'), 1,
                               options=['model.bbox_head.loss_bbox.loss_weight=nan']))
    assert result.returncode != 0
    assert 'Non-finite loss at iteration 1: loss_bbox=nan' in result.stderr
    # The way to skip such steps instead, which the next test takes.
    assert '--cfg-options default_hooks.non_finite_loss.skip=True' in result.stderr


@pytest.fixture(scope='module')
def skipping_run(tiny_coco, tmp_path_factory):
    """One epoch (2 iterations of 4 images) whose every loss is NaN, steps skipped, from known
    weights (``load_from``); with ``--auto-scale-lr`` and no learning-rate schedule, so that the
    same run shows the learning rate mmengine scaled for the batch (4, beside the config's 16).
    Returns (work dir, the output, the parameters it started from)."""
    tmp_path = tmp_path_factory.mktemp('skip')
    model = build_model_from_config(DEMO_CONFIG)[0]
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, tmp_path / 'start.pth')
    start = {name: value.detach().clone() for name, value in model.named_parameters()}
    work_dir = str(tmp_path / 'work')
    result = run(train_command(tiny_coco, work_dir, 1, flags=['--auto-scale-lr'],
                               options=['model.bbox_head.loss_bbox.loss_weight=nan',
                                        'default_hooks.non_finite_loss.skip=True',
                                        f'load_from={tmp_path / "start.pth"}',
                                        'param_scheduler=[]']))
    assert result.returncode == 0, result.stderr[-2000:]
    return work_dir, result.stdout + result.stderr, start


def test_non_finite_loss_steps_can_be_skipped(skipping_run):
    work_dir, output, start = skipping_run
    assert 'Skipped the step of iteration 1' in output
    assert 'Skipped the step of iteration 2' in output
    checkpoint = load_checkpoint_file(osp.join(work_dir, 'epoch_1.pth'))
    # No step was applied: every weight is the one loaded, bit for bit, and the optimizer never
    # stepped (AdamW keeps no moments, weight decay was not applied either). BatchNorm's
    # running statistics are not compared: the forward passes did update them.
    changed = [name for name, value in start.items()
               if not torch.equal(checkpoint['state_dict'][name], value)]
    assert start and changed == []
    assert checkpoint['optimizer']['state'] == {}


def test_auto_scale_lr_scales_by_the_actual_batch_size(skipping_run):
    """As mmengine's Runner.scale_lr: lr x (world size x batch size) / base_batch_size."""
    work_dir, output, _ = skipping_run
    cfg = Config.fromfile(DEMO_CONFIG)
    base_lr, base_batch = cfg.optim_wrapper.optimizer.lr, cfg.auto_scale_lr.base_batch_size
    assert base_batch != 4
    scaled = base_lr * (4 / base_batch)
    assert f'Scaling the original LR by {4 / base_batch}' in output
    # The learning rate the optimizer used (every parameter group) and the one logged.
    groups = load_checkpoint_file(osp.join(work_dir, 'epoch_1.pth'))['optimizer']['param_groups']
    assert [group['lr'] for group in groups] == [scaled] * len(groups)
    (scalars,) = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(scalars) as f:
        logged = [json.loads(line)['lr'] for line in f]
    assert logged == [scaled, scaled]


def test_truncated_checkpoint_is_named(tmp_path):
    path = tmp_path / 'epoch_12.pth'
    torch.save(LSNet('t').state_dict(), path)
    path.write_bytes(path.read_bytes()[:5000])
    result = run([sys.executable, osp.join(ROOT, 'tools', 'test.py'), DEMO_CONFIG, str(path)])
    assert result.returncode != 0
    assert f'{path} is not a readable PyTorch checkpoint' in result.stderr
    assert 'Traceback' not in result.stderr
    model = LSNet('t', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(ValueError, match='epoch_12.pth is not a readable PyTorch checkpoint'):
        model.init_weights()


def test_resume_from_missing_checkpoint_is_named(tmp_path, monkeypatch):
    error = refusal_of('train', DEMO_CONFIG, '--resume', tmp_path / 'nope.pth',
                       monkeypatch=monkeypatch)
    assert 'nope.pth' in error
