"""Whole-model checkpoints that do not fit are errors naming the first tensor and both shapes,
on every path that loads one: tools/test.py, --resume, load_from, tools/infer.py and
build_model_from_config (the analysis and export tools)."""
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch

from lsnet_dense import LSNet, engine
from lsnet_dense.apis import build_model_from_config
from lsnet_dense.errors import CheckpointMismatchError
from helpers import REFERENCE_JSON, ROOT, load_tool

DEMO_CONFIG = osp.join(ROOT, 'configs', 'demo', 'retinanet_lsnet_t_demo.py')


def first_mismatch(model_state, checkpoint_state):
    """The message part for the first tensor of the model whose shape differs."""
    key = next(k for k, v in model_state.items() if checkpoint_state[k].shape != v.shape)
    return (f'{key} has shape {tuple(checkpoint_state[key].shape)} in the checkpoint and '
            f'{tuple(model_state[key].shape)} in the model')


@pytest.fixture(scope='module')
def other_variant(tmp_path_factory):
    """A checkpoint of the demo detector with an LSNet-S backbone, and the expected message."""
    model_t = build_model_from_config(DEMO_CONFIG)[0]
    model_s = build_model_from_config(DEMO_CONFIG, {'model.backbone.arch': 's'})[0]
    path = str(tmp_path_factory.mktemp('ckpt') / 'lsnet_s_demo.pth')
    # A training state (what --resume takes: the message hub of tools/train.py's saves).
    torch.save({'state_dict': model_s.state_dict(), 'meta': {}, 'message_hub': {}}, path)
    return path, first_mismatch(model_t.state_dict(), model_s.state_dict())


def run_tool(tool, *args):
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    return subprocess.run([sys.executable, osp.join(ROOT, 'tools', tool), *args], cwd=ROOT,
                          capture_output=True, text=True, env=env)


def data_options(root, work_dir):
    return ['--work-dir', work_dir, '--cfg-options',
            *(f'{split}_dataloader.{key}' for split in ('train', 'val', 'test')
              for key in (f'dataset.data_root={root}/', 'num_workers=0',
                          'persistent_workers=False')),
            f'val_evaluator.ann_file={root}/annotations/instances_val.json',
            f'test_evaluator.ann_file={root}/annotations/instances_val.json',
            'train_dataloader.batch_size=2', 'train_cfg.max_epochs=1']


def test_message_names_first_tensor_and_both_shapes():
    model_t, model_s = LSNet('t'), LSNet('s')
    expected = first_mismatch(model_t.state_dict(), model_s.state_dict())
    mismatch = CheckpointMismatchError
    with pytest.raises(mismatch, match='lsnet_s.pth does not fit') as error:
        engine.check_state_dict_fits(model_t, model_s.state_dict(), 'lsnet_s.pth')
    assert expected in str(error.value) and 'more tensors that do not fit' in str(error.value)

    state = {f'module.{k}': v for k, v in model_t.state_dict().items()}  # DDP prefix: fine
    engine.check_state_dict_fits(model_t, state)
    key = next(iter(model_t.state_dict()))
    del state[f'module.{key}']
    with pytest.raises(mismatch, match=f'{key} .* is missing from the checkpoint'):
        engine.check_state_dict_fits(model_t, state)
    state = dict(model_t.state_dict(), **{'extra.weight': torch.zeros(2)})
    with pytest.raises(mismatch, match=r'extra.weight \(2,\) is in the checkpoint but not'):
        engine.check_state_dict_fits(model_t, state)


def test_load_model_checkpoint_loads_what_fits(tmp_path):
    source, target = LSNet('t'), LSNet('t')
    torch.nn.init.normal_(source.patch_embed[0].c.weight)
    path = str(tmp_path / 'model.pth')
    torch.save({'state_dict': source.state_dict(), 'meta': {'epoch': 3}}, path)
    assert engine.load_model_checkpoint(target, path)['meta'] == {'epoch': 3}
    assert all(torch.equal(a, b) for a, b in zip(source.state_dict().values(),
                                                 target.state_dict().values()))


def test_tools_test_refuses_another_variant(tiny_coco, other_variant, tmp_path):
    path, expected = other_variant
    result = run_tool('test.py', DEMO_CONFIG, path, *data_options(tiny_coco, str(tmp_path)))
    assert result.returncode != 0
    assert f'error: {path} does not fit the model of this config' in result.stderr
    assert expected in result.stderr and 'Traceback' not in result.stderr
    assert not osp.exists(tmp_path / 'test_metrics.json')


@pytest.mark.parametrize('how', ['resume', 'load_from'])
def test_training_refuses_another_variant(how, tiny_coco, other_variant, tmp_path):
    path, expected = other_variant
    flags = ['--resume', path] if how == 'resume' else []
    options = [] if how == 'resume' else [f'load_from={path}']
    result = run_tool('train.py', DEMO_CONFIG, *flags,
                      *data_options(tiny_coco, str(tmp_path)), *options)
    assert result.returncode != 0
    assert f'error: {path} does not fit the model of this config' in result.stderr
    assert expected in result.stderr and 'Traceback' not in result.stderr
    assert not [name for name in os.listdir(tmp_path) if name.endswith('.pth')]


def test_infer_and_model_builder_refuse_another_variant(other_variant, tmp_path):
    path, expected = other_variant
    image = str(REFERENCE_JSON)  # any file
    with pytest.raises(SystemExit, match=re.escape(f'error: {path} does not fit')) as error:
        load_tool('infer').main([DEMO_CONFIG, path, image, '--out-dir', str(tmp_path)])
    assert expected in str(error.value)
    # The path of the analysis tools (get_flops.py, benchmark.py) and the ONNX export.
    with pytest.raises(CheckpointMismatchError, match='does not fit'):
        build_model_from_config(DEMO_CONFIG, checkpoint=path)
