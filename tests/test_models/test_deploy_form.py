"""The deploy form built directly (``deploy=True``) and tools/model_converters/reparameterize.py:
a folded checkpoint is written, reloaded strictly and computes what the unfused model does."""
import os.path as osp

import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from lsnet_dense import LSNet
from lsnet_dense.apis import build_model_from_config
from lsnet_dense.checkpoints import load_checkpoint_file
from lsnet_dense.models.classifier import LSNetClassifier
from helpers import ROOT, calibrate_batchnorm, load_tool, random_state_dict, refusal_of

VARIANTS = ['t', 's', 'b']
DEMO_CONFIGS = ['configs/demo/retinanet_lsnet_t_demo.py',
                'configs/demo/semfpn_lsnet_t_demo_ade20k.py']


def _randomised(model):
    """``model`` with random weights and data-calibrated BatchNorm statistics, in eval mode, so
    that every folded BatchNorm is far from the identity."""
    shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    model.load_state_dict(random_state_dict(shapes), strict=True)
    calibration = torch.randn(4, 3, 128, 128, generator=torch.Generator().manual_seed(7))
    calibrate_batchnorm(model.backbone if hasattr(model, 'backbone') else model, calibration)
    return model.eval()


def _tensors(outputs):
    """The tensors of nested tuples / lists of tensors, in order."""
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    return [t for item in outputs for t in _tensors(item)]


def _assert_close(outs, refs):
    """Each output within 1e-5 of its reference, relative to the reference's magnitude."""
    assert len(outs) == len(refs) > 0
    for out, ref in zip(outs, refs):
        assert out.shape == ref.shape
        assert (out - ref).abs().max() / ref.abs().max() < 1e-5


def _folded_repr(model):
    """The module tree of ``model`` after ``switch_to_deploy``: names, types and every layer's
    settings (kernel, stride, groups, bias), in order. Of a model as constructed: the
    calibration changes BatchNorm momentum, which repr shows too."""
    model.switch_to_deploy()
    return repr(model)


def _batchnorms(model):
    return [name for name, m in model.named_modules() if isinstance(m, _BatchNorm)]


@pytest.mark.parametrize('arch', VARIANTS)
def test_deploy_constructor_builds_what_switch_to_deploy_leaves(arch):
    unfused = _randomised(LSNet(arch))
    x = torch.randn(1, 3, 96, 80, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = unfused(x)
    folded = unfused
    folded.switch_to_deploy()
    deployed = LSNet(arch, deploy=True)
    assert repr(deployed) == _folded_repr(LSNet(arch))
    assert ({k: v.shape for k, v in deployed.state_dict().items()}
            == {k: v.shape for k, v in folded.state_dict().items()})
    # The only BatchNorms left are those after SKA, which nothing can absorb.
    assert _batchnorms(deployed) == _batchnorms(folded)
    assert all(name.endswith('.mixer.bn') for name in _batchnorms(deployed))
    assert deployed.deploy and folded.deploy
    deployed.load_state_dict(folded.state_dict(), strict=True)
    with torch.no_grad():
        _assert_close(deployed.eval()(x), expected)


def test_deploy_form_trains():
    model = LSNet('t', deploy=True).train()
    sum(out.mean() for out in model(torch.randn(2, 3, 64, 64))).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_deploy_classifier_builds_what_switch_to_deploy_leaves():
    unfused = _randomised(LSNetClassifier('t', num_classes=10, distillation=True))
    x = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = unfused(x)
    unfused.switch_to_deploy()
    deployed = LSNetClassifier('t', num_classes=10, distillation=True, deploy=True)
    assert repr(deployed) == _folded_repr(LSNetClassifier('t', num_classes=10,
                                                          distillation=True))
    deployed.load_state_dict(unfused.state_dict(), strict=True)
    with torch.no_grad():
        _assert_close([deployed.eval()(x)], [expected])


@pytest.mark.parametrize('config', DEMO_CONFIGS)
def test_reparameterized_checkpoint_loads_into_deploy_model(config, tmp_path, capsys):
    config = osp.join(ROOT, config)
    model = _randomised(build_model_from_config(config)[0])
    meta = {'epoch': 2, 'dataset_meta': {'classes': ('circle', 'square', 'triangle')}}
    trained = tmp_path / 'trained.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': meta}, trained)
    out = tmp_path / 'deploy' / 'folded.pth'

    load_tool('model_converters/reparameterize').main([config, str(trained), str(out)])

    assert f'wrote {out}: ' in capsys.readouterr().out
    assert load_checkpoint_file(str(out))['meta'] == dict(meta, deploy=True)
    deployed, _ = build_model_from_config(config, {'model.backbone.deploy': True},
                                          checkpoint=str(out))
    assert not any(type(m).__name__ in ('Conv2dBN', 'RepVGGDW') for m in deployed.modules())
    x = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        _assert_close(deployed.backbone(x), model.backbone(x))
        _assert_close(_tensors(deployed._forward(x)), _tensors(model._forward(x)))


def test_reparameterize_refuses_to_overwrite_its_input(tmp_path, monkeypatch):
    trained = tmp_path / 'trained.pth'
    torch.save({}, trained)
    message = refusal_of('model_converters/reparameterize', osp.join(ROOT, DEMO_CONFIGS[0]),
                         trained, trained, monkeypatch=monkeypatch)
    assert 'is the input checkpoint' in message


def test_deploy_backbone_refuses_an_unfused_pretrained_file(reference_shapes, tmp_path):
    """A published (unfused) file would leave the folded convolutions as initialised."""
    path = tmp_path / 'lsnet_t.pth'
    torch.save({'model': random_state_dict(reference_shapes['classification']['lsnet_t'])}, path)
    model = LSNet('t', deploy=True, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(ValueError, match='does not hold the folded .deploy. form.*'
                       'switch_to_deploy'):
        model.init_weights()


def test_deploy_backbone_loads_a_folded_file(reference_shapes, tmp_path):
    folded = LSNet('t')
    folded.load_state_dict(random_state_dict(reference_shapes['backbone_detection']['lsnet_t']))
    folded.switch_to_deploy()
    path = tmp_path / 'folded.pth'
    torch.save({'state_dict': folded.state_dict()}, path)
    model = LSNet('t', deploy=True, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    assert all(torch.equal(model.state_dict()[k], v) for k, v in folded.state_dict().items())
