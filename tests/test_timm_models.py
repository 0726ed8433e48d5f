"""lsnet_dense.timm_models: the message without timm, and the registration with a stand-in.

timm cannot be imported in this environment (it needs torchvision), so the registration is
checked against a minimal stand-in of the three timm functions the module calls, recording
how they are called and doing what timm documents for them.
"""
import importlib
import subprocess
import sys
import types

import pytest
import torch

from lsnet_dense import LSNet
from lsnet_dense.models.classifier import LSNetClassifier
from conftest import random_state_dict


def test_importing_lsnet_dense_does_not_import_timm():
    script = ('import sys, lsnet_dense; '
              'print("timm" in sys.modules, "lsnet_dense.timm_models" in sys.modules)')
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['False', 'False']


def test_clear_message_without_timm(monkeypatch):
    monkeypatch.delitem(sys.modules, 'lsnet_dense.timm_models', raising=False)
    monkeypatch.setitem(sys.modules, 'timm', None)  # as if timm were not installed
    with pytest.raises(ImportError, match=r'needs timm, which needs torchvision .*'
                                          r'pip install "lsnet_dense\[timm\]"'):
        importlib.import_module('lsnet_dense.timm_models')


@pytest.fixture
def fake_timm(monkeypatch):
    """Stand-ins for timm.data's constants and timm.models' registry and builder."""
    registry, builds = {}, []

    def build_model_with_cfg(model_cls, variant, pretrained, pretrained_filter_fn=None,
                             feature_cfg=None, pretrained_cfg_overlay=None, **kwargs):
        builds.append(dict(variant=variant, feature_cfg=feature_cfg, kwargs=dict(kwargs)))
        kwargs.pop('features_only', None)
        model = model_cls(in_chans=3, **kwargs)  # timm passes in_chans from the input size
        if pretrained:  # timm: torch.load, take 'model', strip 'module.', filter, strict load
            state = torch.load(pretrained_cfg_overlay['file'])['model']
            state = {k.removeprefix('module.'): v for k, v in state.items()}
            model.load_state_dict(pretrained_filter_fn(state, model), strict=True)
        return model

    timm = types.ModuleType('timm')
    data = types.ModuleType('timm.data')
    data.IMAGENET_DEFAULT_MEAN, data.IMAGENET_DEFAULT_STD = (0.485, 0.456, 0.406), (0.229, 0.224,
                                                                                   0.225)
    models = types.ModuleType('timm.models')
    models.register_model = lambda fn: registry.setdefault(fn.__name__, fn)
    models.generate_default_cfgs = dict
    models.build_model_with_cfg = build_model_with_cfg
    timm.data, timm.models = data, models
    for name, module in (('timm', timm), ('timm.data', data), ('timm.models', models)):
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.delitem(sys.modules, 'lsnet_dense.timm_models', raising=False)
    module = importlib.import_module('lsnet_dense.timm_models')
    yield module, registry, builds
    sys.modules.pop('lsnet_dense.timm_models', None)


def test_registers_three_variants_with_pretrained_cfgs(fake_timm):
    module, registry, builds = fake_timm
    assert sorted(registry) == ['lsnet_b', 'lsnet_s', 'lsnet_t']
    assert module.default_cfgs['lsnet_t']['classifier'] == ('head.l', 'head_dist.l')
    model = registry['lsnet_s'](num_classes=10, drop_path_rate=0.1)
    assert isinstance(model, LSNetClassifier) and model.embed_dims[0] == 96
    assert builds[-1]['variant'] == 'lsnet_s'
    assert builds[-1]['feature_cfg'] == dict(out_indices=(0, 1, 2, 3))


@pytest.mark.parametrize('distilled_file,distilled_model', [(True, False), (False, False),
                                                            (True, True)])
def test_published_checkpoint_loads(fake_timm, reference_shapes, tmp_path, distilled_file,
                                    distilled_model):
    _, registry, _ = fake_timm
    kind = 'classification_distill' if distilled_file else 'classification'
    stored = random_state_dict(reference_shapes[kind]['lsnet_t'])
    path = tmp_path / 'lsnet_t.pth'
    torch.save({'model': {f'module.{k}': v for k, v in stored.items()}}, path)
    model = registry['lsnet_t'](pretrained=True, distillation=distilled_model,
                                pretrained_cfg_overlay=dict(file=str(path)))
    assert torch.equal(model.head.l.weight, stored['head.l.weight'])


def test_checkpoint_of_other_variant_is_refused(fake_timm, reference_shapes, tmp_path):
    _, registry, _ = fake_timm
    stored = random_state_dict(reference_shapes['classification']['lsnet_t'])
    torch.save({'model': stored}, tmp_path / 't.pth')
    with pytest.raises(ValueError, match='patch_embed.0.c.weight'):
        registry['lsnet_b'](pretrained=True, pretrained_cfg_overlay=dict(file=str(tmp_path /
                                                                                  't.pth')))


def test_feature_info_names_the_four_levels():
    """What timm's FeatureListNet does with feature_info: run the children in order and keep
    the outputs of the named modules."""
    model = LSNetClassifier('t').eval()
    images = torch.randn(1, 3, 128, 96)
    wanted = {info['module']: info for info in model.feature_info}
    features, x = [], images
    with torch.no_grad():
        for name, child in model.named_children():
            if not wanted:
                break
            x = child(x)
            if name in wanted:
                info = wanted.pop(name)
                assert x.shape[1] == info['num_chs'] and x.shape[2] == 128 // info['reduction']
                features.append(x)
        model.out_indices = (0, 1, 2, 3)
        expected = LSNet.forward(model, images)
    assert len(features) == 4
    for feature, reference in zip(features, expected):
        torch.testing.assert_close(feature, reference)
