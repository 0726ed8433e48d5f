"""lsnet_dense.timm_models against the real timm: registry, builder, features, checkpoints."""
import subprocess
import sys

import pytest
import torch

from helpers import published_classification

timm = pytest.importorskip('timm')
import lsnet_dense.timm_models  # noqa: E402,F401  registers lsnet_t/s/b

CHANNELS = {'t': [64, 128, 256, 384], 's': [96, 192, 320, 448], 'b': [128, 256, 384, 512]}


def test_importing_lsnet_dense_does_not_import_timm():
    script = ('import sys, lsnet_dense; '
              'print("timm" in sys.modules, "lsnet_dense.timm_models" in sys.modules)')
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['False', 'False']


def test_clear_message_without_timm():
    # A fresh interpreter, so the real timm's registry is left alone.
    script = ('import sys; sys.modules["timm"] = None  # as if timm were not installed\n'
              'import lsnet_dense.timm_models')
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True)
    assert result.returncode != 0
    assert 'ImportError: lsnet_dense.timm_models needs timm' in result.stderr
    assert 'pip install -e "/path/to/lsnet_dense[timm]"' in result.stderr


def test_list_models():
    assert timm.list_models('lsnet*') == ['lsnet_b', 'lsnet_s', 'lsnet_t']


@pytest.mark.parametrize('arch', 'tsb')
def test_create_model_classifies(arch):
    model = timm.create_model(f'lsnet_{arch}', num_classes=7).eval()
    with torch.no_grad():
        logits = model(torch.randn(2, 3, 224, 224))
    assert logits.shape == (2, 7)
    assert model.pretrained_cfg['input_size'] == (3, 224, 224)


@pytest.mark.parametrize('arch', 'tsb')
def test_features_only_gives_four_levels(arch):
    model = timm.create_model(f'lsnet_{arch}', features_only=True).eval()
    assert model.feature_info.channels() == CHANNELS[arch]
    assert model.feature_info.reduction() == [8, 16, 32, 64]
    with torch.no_grad():
        features = model(torch.randn(1, 3, 128, 192))
    assert [tuple(f.shape) for f in features] == [
        (1, c, 128 // r, 192 // r) for c, r in zip(CHANNELS[arch], [8, 16, 32, 64])]


def test_features_only_out_indices():
    model = timm.create_model('lsnet_t', features_only=True, out_indices=(1, 3)).eval()
    assert model.feature_info.channels() == [128, 384]
    assert model.feature_info.reduction() == [16, 64]
    with torch.no_grad():
        features = model(torch.randn(1, 3, 128, 128))
    assert [f.shape[1] for f in features] == [128, 384]


def published_file(reference_shapes, tmp_path, kind, arch='t'):
    """A file of the published classification structure (see
    :func:`helpers.published_classification`)."""
    checkpoint, stored = published_classification(reference_shapes, arch,
                                                  distill=kind == 'classification_distill')
    path = tmp_path / f'{kind}_lsnet_{arch}.pth'
    torch.save(checkpoint, path)
    return stored, str(path)


def assert_loaded(model, stored):
    state = model.state_dict()
    assert set(state) == set(stored)
    for key, value in stored.items():
        assert torch.equal(state[key], value.to(state[key].dtype)), key


@pytest.mark.parametrize('kind,distillation', [('classification', False),
                                               ('classification_distill', True),
                                               ('classification_distill', False)])
def test_pretrained_file_loads_every_tensor(reference_shapes, tmp_path, kind, distillation):
    stored, path = published_file(reference_shapes, tmp_path, kind)
    model = timm.create_model('lsnet_t', pretrained=True, distillation=distillation,
                              pretrained_cfg_overlay=dict(file=path))
    if not distillation:  # a distilled file's second head has no place in this model
        stored = {k: v for k, v in stored.items() if not k.startswith('head_dist.')}
    assert_loaded(model, stored)


@pytest.mark.parametrize('kind,distillation', [('classification', False),
                                               ('classification_distill', True)])
def test_checkpoint_path_loads_every_tensor(reference_shapes, tmp_path, kind, distillation):
    stored, path = published_file(reference_shapes, tmp_path, kind)
    model = timm.create_model('lsnet_t', checkpoint_path=path, distillation=distillation)
    assert_loaded(model, stored)


def test_checkpoint_of_other_variant_is_refused(reference_shapes, tmp_path):
    _, path = published_file(reference_shapes, tmp_path, 'classification', arch='t')
    with pytest.raises(ValueError, match='patch_embed.0.c.weight'):
        timm.create_model('lsnet_b', pretrained=True, pretrained_cfg_overlay=dict(file=path))


def test_reset_classifier_and_forward_parts():
    model = timm.create_model('lsnet_t').eval()
    images = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        features = model.forward_features(images)
        assert features.shape == (2, 384, 4, 4)
        torch.testing.assert_close(model.forward_head(features), model(images))
        assert model.forward_head(features, pre_logits=True).shape == (2, 384)
        model.reset_classifier(5)
        assert model(images).shape == (2, 5)
        assert model.get_classifier().l.out_features == 5
        model.reset_classifier(0)
        assert model(images).shape == (2, 384)
