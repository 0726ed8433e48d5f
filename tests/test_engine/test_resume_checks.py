"""--resume without a checkpoint to resume, and the pre-flight checks under --resume."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from lsnet_dense.datasets import generate_demo_coco
from helpers import ROOT, refusal_of

DEMO_CONFIG = osp.join(ROOT, 'configs', 'demo', 'retinanet_lsnet_t_demo.py')


@pytest.fixture(scope='module')
def tiny_coco(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('coco'))
    generate_demo_coco(root, num_train=4, num_val=2, height=64, width=64, seed=5)
    return root


def train_args(root, work_dir, config=DEMO_CONFIG):
    """tools/train.py's arguments: --resume on the tiny dataset, one short epoch if it trains."""
    return [config, '--resume', '--work-dir', work_dir, '--cfg-options',
            f'train_dataloader.dataset.data_root={root}/',
            'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False', 'train_cfg.max_epochs=1',
            'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None']


def train(root, work_dir, config=DEMO_CONFIG):
    """tools/train.py in a subprocess, as a user runs it."""
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    command = [sys.executable, osp.join(ROOT, 'tools', 'train.py'),
               *train_args(root, work_dir, config)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)


def test_nothing_to_resume_is_refused(tiny_coco, tmp_path):
    work_dir = str(tmp_path / 'new')
    result = train(tiny_coco, work_dir)
    assert result.returncode != 0
    assert f'error: --resume: nothing to resume in {work_dir}' in result.stderr
    assert 'Traceback' not in result.stderr
    assert not osp.exists(osp.join(work_dir, 'epoch_1.pth'))


def test_last_checkpoint_naming_a_missing_file_is_refused(tiny_coco, tmp_path, monkeypatch):
    (tmp_path / 'epoch_1.pth').write_bytes(b'')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_2.pth'))
    error = refusal_of('train', *train_args(tiny_coco, str(tmp_path)), monkeypatch=monkeypatch)
    assert f"names '{tmp_path / 'epoch_2.pth'}', which does not exist" in error
    assert f'Checkpoints in {tmp_path}: {tmp_path / "epoch_1.pth"}' in error


def test_missing_pretrained_file_is_named_when_resuming(tiny_coco, tmp_path, monkeypatch):
    """The runner initialises the weights (reading the pretrained file) before it resumes."""
    checkpoint = tmp_path / 'epoch_1.pth'
    torch.save({'state_dict': {}, 'meta': {'epoch': 1}, 'message_hub': {}}, checkpoint)
    (tmp_path / 'last_checkpoint').write_text(str(checkpoint))
    missing = str(tmp_path / 'pretrained' / 'lsnet_t.pth')
    config = tmp_path / 'pretrained_demo.py'
    init_cfg = dict(_delete_=True, type='Pretrained', checkpoint=missing)
    config.write_text(f'_base_ = {DEMO_CONFIG!r}\n'
                      f'model = dict(backbone=dict(init_cfg={init_cfg!r}))\n')
    error = refusal_of('train', *train_args(tiny_coco, str(tmp_path), str(config)),
                       monkeypatch=monkeypatch)
    assert f'error: Pretrained backbone file not found: {missing}' in error
