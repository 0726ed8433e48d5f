"""lsnet_dense.checkpoints.load_checkpoint_file: ``weights_only`` loading with the toolkit's
allowlist, scoped to the call; what it must still read (mmengine's saves of mmdet's own models,
the published files' structures, URLs); its refusals and the trusted opt-in."""
import argparse
import datetime
import logging
import os.path as osp
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

from lsnet_dense.checkpoints import TRUST_ENV, load_checkpoint_file
from lsnet_dense.datasets import generate_demo_coco
from lsnet_dense.errors import UntrustedCheckpointError
from helpers import (ROOT, load_tool, published_classification, published_dense,
                     served_directory)

MMDET_CONFIGS = osp.join(osp.dirname(__import__('mmdet').__file__), '.mim', 'configs')


def assert_same(loaded, saved, where='checkpoint'):
    """``loaded`` equals ``saved`` in types and values, down to every tensor, array and
    history buffer."""
    assert type(loaded) is type(saved), f'{where}: {type(loaded)} != {type(saved)}'
    if isinstance(saved, dict):
        assert list(loaded) == list(saved), where
        for key in saved:
            assert_same(loaded[key], saved[key], f'{where}[{key!r}]')
    elif isinstance(saved, (list, tuple)):
        assert len(loaded) == len(saved), where
        for i, (a, b) in enumerate(zip(loaded, saved)):
            assert_same(a, b, f'{where}[{i}]')
    elif isinstance(saved, torch.Tensor):
        assert loaded.dtype == saved.dtype and torch.equal(loaded, saved), where
    elif isinstance(saved, np.ndarray):
        assert loaded.dtype == saved.dtype and np.array_equal(loaded, saved), where
    elif isinstance(saved, (HistoryBuffer, argparse.Namespace)):
        assert_same(vars(loaded), vars(saved), where)
    else:
        assert loaded == saved, where


@pytest.fixture(scope='module')
def mmdet_own_run(tmp_path_factory):
    """tools/train.py on mmdet's own RetinaNet-R18 config: one epoch, then ``--resume`` to a
    second (its MultiStepLR keeps its milestones in a ``collections.Counter``)."""
    root = tmp_path_factory.mktemp('mmdet_own')
    generate_demo_coco(str(root / 'coco'), num_train=4, num_val=2, height=64, width=64, seed=3)
    config = root / 'retinanet_r18_tiny.py'
    config.write_text(textwrap.dedent(f'''
        _base_ = {osp.join(MMDET_CONFIGS, 'retinanet', 'retinanet_r18_fpn_1x_coco.py')!r}
        model = dict(backbone=dict(init_cfg=None), bbox_head=dict(num_classes=3))
        pipeline = [dict(type='LoadImageFromFile'),
                    dict(type='LoadAnnotations', with_bbox=True),
                    dict(type='Resize', scale=(64, 64), keep_ratio=True),
                    dict(type='PackDetInputs')]
        train_dataloader = dict(
            batch_size=2, num_workers=0, persistent_workers=False,
            dataset=dict(data_root={str(root / 'coco')!r} + '/',
                         ann_file='annotations/instances_train.json',
                         data_prefix=dict(img='train/'),
                         metainfo=dict(classes=('circle', 'square', 'triangle')),
                         pipeline=pipeline))
        val_cfg = None
        val_dataloader = None
        val_evaluator = None
        '''))
    work_dir = root / 'work_dir'

    def train(epochs, *flags):
        command = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), str(config),
                   '--work-dir', str(work_dir), *flags, '--cfg-options',
                   f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs + 1}']
        result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=600)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result.stdout + result.stderr

    train(1)
    resumed = train(2, '--resume')
    return work_dir, resumed


def test_mmdet_own_checkpoint_loads_exactly_as_saved(mmdet_own_run):
    work_dir, _ = mmdet_own_run
    path = str(work_dir / 'epoch_1.pth')
    saved = torch.load(path, weights_only=False)  # written by this test: trusted
    assert isinstance(next(iter(saved['message_hub']['log_scalars'].values())), HistoryBuffer)
    assert any(type(s.get('milestones')).__name__ == 'Counter' for s in saved['param_schedulers'])
    assert_same(load_checkpoint_file(path), saved)


def test_mmdet_own_run_resumes(mmdet_own_run):
    work_dir, resumed = mmdet_own_run
    assert 'resumed epoch: 1, iter: 2' in resumed
    checkpoint = load_checkpoint_file(str(work_dir / 'epoch_2.pth'))
    assert checkpoint['meta']['epoch'] == 2 and checkpoint['meta']['iter'] == 4


def test_published_classification_structure_loads(reference_shapes, tmp_path):
    checkpoint, _ = published_classification(reference_shapes, 't', distill=True)
    torch.save(checkpoint, tmp_path / 'lsnet_t_distill.pth')
    assert_same(load_checkpoint_file(str(tmp_path / 'lsnet_t_distill.pth')), checkpoint)


@pytest.mark.parametrize('task', ['retinanet', 'mask_rcnn', 'semfpn'])
def test_published_dense_structure_loads(task, reference_shapes, tmp_path):
    checkpoint = published_dense(reference_shapes, task, 's', torch.nn.Module())
    torch.save(checkpoint, tmp_path / f'{task}.pth')
    assert_same(load_checkpoint_file(str(tmp_path / f'{task}.pth')), checkpoint)


def test_allowlist_is_scoped_to_the_call(mmdet_own_run):
    path = str(mmdet_own_run[0] / 'epoch_1.pth')
    # torch keeps the allowlist in a set that it rebuilds on every change, so
    # the list it hands out may come back in another order: compare contents.
    before = set(torch.serialization.get_safe_globals())
    load_checkpoint_file(path)
    assert set(torch.serialization.get_safe_globals()) == before
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)


class _Owner:
    """Stands for any class a pickle could reach attributes of."""


@pytest.mark.parametrize('owner,name,allowed', [(HistoryBuffer, 'mean', True),
                                                (HistoryBuffer, '__init__', False),
                                                (HistoryBuffer, '__class__', False),
                                                (_Owner, 'mean', False)])
def test_getattr_reaches_history_buffer_statistics_only(owner, name, allowed, tmp_path):
    class Reference:
        def __reduce__(self):
            return getattr, (owner, name)

    path = str(tmp_path / 'getattr.pth')
    torch.save({'method': Reference()}, path)
    if allowed:
        assert load_checkpoint_file(path)['method'] is getattr(owner, name)
    else:
        with pytest.raises(UntrustedCheckpointError, match='refused to load'):
            load_checkpoint_file(path)


@pytest.fixture
def dated_checkpoint(tmp_path):
    """A harmless file that needs a global outside the allowlist (``datetime.date``)."""
    path = str(tmp_path / 'dated.pth')
    torch.save({'state_dict': {'w': torch.ones(2)}, 'meta': {'day': datetime.date(2025, 3, 30)}},
               path)
    return path


def test_refusal_names_file_global_and_how_to_opt_in(dated_checkpoint, monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)
    with pytest.raises(UntrustedCheckpointError) as refused:
        load_checkpoint_file(dated_checkpoint)
    message = str(refused.value)
    assert message.startswith(f'{dated_checkpoint}: refused to load')
    assert 'the global datetime.date' in message
    assert '--trust-checkpoint' in message and f'{TRUST_ENV}=1' in message


def _trust_warnings(caplog):
    return [r for r in caplog.records
            if r.levelno == logging.WARNING and 'weights_only=False' in r.getMessage()]


def test_opt_in_loads_and_warns_at_each_load(dated_checkpoint, monkeypatch, caplog):
    monkeypatch.setenv(TRUST_ENV, '1')
    for _ in range(2):
        assert load_checkpoint_file(dated_checkpoint)['meta']['day'] == datetime.date(2025, 3, 30)
    monkeypatch.delenv(TRUST_ENV)
    assert load_checkpoint_file(dated_checkpoint, trust=True)['meta']['day'].year == 2025
    assert len(_trust_warnings(caplog)) == 3
    assert dated_checkpoint in _trust_warnings(caplog)[0].getMessage()


def test_tool_flag_opts_in(reference_shapes, tmp_path, monkeypatch, caplog):
    checkpoint, _ = published_classification(reference_shapes, 't')
    checkpoint['args'].finished = datetime.date(2025, 3, 30)
    src, dst = tmp_path / 'lsnet_t.pth', tmp_path / 'lsnet_t_backbone.pth'
    torch.save(checkpoint, src)
    monkeypatch.setenv(TRUST_ENV, '0')  # the tool sets it to 1; restored after the test
    convert = load_tool('model_converters/convert_checkpoint')
    with pytest.raises(SystemExit, match='the global datetime.date'):
        convert.main([str(src), str(dst), '--quiet'])
    convert.main([str(src), str(dst), '--quiet', '--trust-checkpoint'])
    assert dst.exists() and _trust_warnings(caplog)


def test_url_is_downloaded_once_and_read_safely(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    served = tmp_path / 'served'
    served.mkdir()
    torch.save({'state_dict': {'w': torch.arange(3)}}, served / 'weights.pth')
    with served_directory(served) as base:
        url = f'{base}/weights.pth'
        assert torch.equal(load_checkpoint_file(url)['state_dict']['w'], torch.arange(3))
    cached = tmp_path / 'torch_home' / 'hub' / 'checkpoints' / 'weights.pth'
    assert cached.is_file()
    assert torch.equal(load_checkpoint_file(url)['state_dict']['w'], torch.arange(3))  # cache


def test_url_that_cannot_be_downloaded_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    with served_directory(tmp_path) as base:
        url = f'{base}/missing.pth'
        with pytest.raises(ConnectionError, match=f'Could not download {url}: the server '
                                                  'answered HTTP 404'):
            load_checkpoint_file(url)
