"""--amp keeps the non-finite loss guard: the config it builds, its refusal without CUDA, and
FiniteLossAmpOptimWrapper telling a NaN loss from the loss scaler's own overflow skips.

mmengine's AmpOptimWrapper needs CUDA; here it is built with mmengine's CUDA check answered yes
and torch's CPU GradScaler in place of the CUDA one, which follows the same rules.
"""
import os.path as osp
import sys
import warnings
from types import SimpleNamespace

import pytest
import torch
from mmengine.optim import AmpOptimWrapper
from mmengine.optim.optimizer import amp_optimizer_wrapper

from lsnet_dense.datasets import generate_demo_coco
from lsnet_dense.engine import non_finite_loss
from lsnet_dense.engine import FiniteLossAmpOptimWrapper, NonFiniteLossHook, amp_optim_wrapper
from lsnet_dense.errors import PreflightError
from helpers import ROOT, load_tool

DET_CONFIG = osp.join(ROOT, 'configs', 'demo', 'retinanet_lsnet_t_demo.py')
EXAMPLE_CONFIG = osp.join(ROOT, 'configs', 'examples', 'retinanet_r50_to_lsnet_t_coco.py')


@pytest.fixture(scope='module')
def coco(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('coco'))
    generate_demo_coco(root, num_train=2, num_val=1, height=64, width=64, seed=0)
    return root


def train_config(monkeypatch, config, *flags):
    train = load_tool('train')
    monkeypatch.setattr(sys, 'argv', ['train.py', config, *flags])
    return train.build_config(train.parse_args())


def test_amp_is_refused_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(PreflightError, match='--amp needs a CUDA GPU'):
        train_config(monkeypatch, DET_CONFIG, '--amp')


def test_amp_config_keeps_the_guard_and_the_optimizer(monkeypatch, coco):
    options = ['--cfg-options', f'train_dataloader.dataset.data_root={coco}/',
               f'val_dataloader.dataset.data_root={coco}/',
               f'val_evaluator.ann_file={coco}/annotations/instances_val.json']
    plain = train_config(monkeypatch, DET_CONFIG, *options).optim_wrapper
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    amp = train_config(monkeypatch, DET_CONFIG, '--amp', *options).optim_wrapper
    assert plain.type == 'FiniteLossOptimWrapper'
    assert amp.type == 'FiniteLossAmpOptimWrapper' and amp.loss_scale == 'dynamic'
    assert {key: value for key, value in amp.items() if key not in ('type', 'loss_scale')} == {
        key: value for key, value in plain.items() if key != 'type'}


def test_amp_wrapper_for_other_configs():
    assert amp_optim_wrapper(dict(type='OptimWrapper', clip_grad=None)) == dict(
        type='AmpOptimWrapper', clip_grad=None, loss_scale='dynamic')
    assert amp_optim_wrapper(dict(type='FiniteLossAmpOptimWrapper', loss_scale=512.)) == dict(
        type='FiniteLossAmpOptimWrapper', loss_scale=512.)
    with pytest.raises(PreflightError, match="'ApexOptimWrapper'"):
        amp_optim_wrapper(dict(type='ApexOptimWrapper'))


def amp_wrapper(monkeypatch, init_scale):
    """A FiniteLossAmpOptimWrapper over a linear layer, with torch's CPU GradScaler."""
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available', lambda: True)
    model = torch.nn.Linear(4, 1)
    with warnings.catch_warnings():  # torch's CUDA GradScaler disables itself on the CPU
        warnings.simplefilter('ignore')
        wrapper = FiniteLossAmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    wrapper.loss_scaler = torch.amp.GradScaler('cpu', init_scale=init_scale)
    return model, wrapper


def weights(model):
    return torch.cat([p.detach().flatten().clone() for p in model.parameters()])


def test_nan_loss_skips_the_step_and_keeps_the_loss_scale(monkeypatch):
    model, wrapper = amp_wrapper(monkeypatch, init_scale=1024.)
    before = weights(model)
    wrapper.update_params(model(torch.ones(2, 4)).sum() * float('nan'))
    assert wrapper.nonfinite_ranks == [0] and not wrapper.scaler_skipped
    assert torch.equal(weights(model), before)
    assert wrapper.loss_scaler.get_scale() == 1024.  # a NaN loss says nothing about the scale
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())
    wrapper.update_params(model(torch.ones(2, 4)).sum())  # a finite loss: a normal step
    assert not wrapper.nonfinite_ranks and not torch.equal(weights(model), before)


def test_scaler_overflow_with_a_finite_loss_is_the_scalers_skip(monkeypatch):
    model, wrapper = amp_wrapper(monkeypatch, init_scale=2.**127)
    before = weights(model)
    wrapper.update_params(model(torch.ones(2, 4)).sum() + 10)  # scaled gradients overflow
    assert wrapper.scaler_skipped and not wrapper.nonfinite_ranks
    assert torch.equal(weights(model), before)
    assert wrapper.loss_scaler.get_scale() == 2.**126
    # The hook does not take the scaler's skip for a non-finite loss.
    runner = SimpleNamespace(iter=0, optim_wrapper=wrapper)
    NonFiniteLossHook().after_train_iter(runner, 0, outputs=dict(loss=torch.tensor(10.)))


def test_hook_stops_at_a_nan_loss_under_amp(monkeypatch):
    _, wrapper = amp_wrapper(monkeypatch, init_scale=1024.)
    runner = SimpleNamespace(iter=6, optim_wrapper=wrapper)
    outputs = dict(loss=torch.tensor(float('nan')), loss_cls=torch.tensor(float('inf')),
                   loss_bbox=torch.tensor(0.5))
    with pytest.raises(FloatingPointError, match=r"iteration 7: loss_cls=inf\. .*bfloat16"):
        NonFiniteLossHook().after_train_iter(runner, 0, outputs=outputs)


def test_hook_warns_about_an_unguarded_wrapper(monkeypatch):
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available', lambda: True)
    model = torch.nn.Linear(4, 1)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        wrapper = AmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    logged = []
    monkeypatch.setattr(non_finite_loss, 'print_log', lambda message, **kwargs: logged.append(
        message))
    NonFiniteLossHook().before_train(SimpleNamespace(optim_wrapper=wrapper))
    assert len(logged) == 1 and 'AmpOptimWrapper applies steps whose loss is not finite' in (
        logged[0])
