"""lsnet_dense.timm_models against the real timm: registry, builder, features, checkpoints,
and ``pretrained=True`` downloading through timm and huggingface_hub from a local Hub."""
import filecmp
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request

import pytest
import timm  # pinned in requirements.txt: a missing timm fails here, it is not skipped
import torch

from helpers import published_classification
from hub_server import served_hub
from lsnet_dense.checkpoints.hub import HUB_REPO, imagenet_filename
import lsnet_dense.timm_models  # noqa: F401  registers lsnet_t/s/b

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
    assert timm.list_models('lsnet*', pretrained=True) == [
        f'lsnet_{arch}.{tag}' for arch in 'bst' for tag in ('dist_in1k', 'in1k')]


@pytest.mark.parametrize('arch', 'tsb')
def test_pretrained_cfgs_name_the_published_files(arch):
    plain = timm.create_model(f'lsnet_{arch}').pretrained_cfg
    distilled = timm.create_model(f'lsnet_{arch}.dist_in1k').pretrained_cfg
    assert (plain['tag'], plain['hf_hub_id'], plain['hf_hub_filename']) == (
        'in1k', 'jameslahm/lsnet', f'lsnet_{arch}.pth')
    assert (distilled['hf_hub_id'], distilled['hf_hub_filename']) == (
        'jameslahm/lsnet', f'lsnet_{arch}_distill.pth')


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
    assert_same_tensors(model.state_dict(), stored)


def assert_same_tensors(state, stored):
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


# Run in a fresh interpreter: huggingface_hub reads HF_ENDPOINT and HF_HOME when imported. It
# saves the loaded models' tensors to OUT for the test process to compare, and reports the
# classes of what huggingface_hub raises for a file the Hub lacks.
HUB_DOWNLOADS = textwrap.dedent('''
    import json, sys
    import huggingface_hub, timm, torch
    import lsnet_dense.timm_models  # noqa: F401  registers lsnet_t/s/b
    out = sys.argv[1]
    models = dict(
        plain=timm.create_model('lsnet_t', pretrained=True),
        distilled=timm.create_model('lsnet_t.dist_in1k', pretrained=True, distillation=True),
        features=timm.create_model('lsnet_t', features_only=True, pretrained=True))
    for name, model in models.items():
        torch.save(model.state_dict(), f'{out}/{name}.pth')
    try:
        huggingface_hub.hf_hub_download('jameslahm/lsnet', 'lsnet_s.pth')  # not served
        missing = None
    except Exception as error:
        missing = [c.__name__ for c in type(error).__mro__]
    print(json.dumps(dict(missing=missing)))
''')


def hub_environment(endpoint, hf_home):
    """This environment with huggingface_hub pointed at ``endpoint`` and caching in
    ``hf_home``: no other Hub setting (token, offline mode, cache folders), no telemetry, no
    Xet transfer, no progress bars, and no proxy for 127.0.0.1."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('HF_', 'HUGGINGFACE_', 'TRANSFORMERS_'))}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(hf_home), HF_HUB_DISABLE_TELEMETRY='1',
               HF_HUB_DISABLE_XET='1', HF_HUB_DISABLE_PROGRESS_BARS='1',
               NO_PROXY='127.0.0.1', no_proxy='127.0.0.1')
    return env


@pytest.fixture(scope='module')
def hub_downloads(reference_shapes, tmp_path_factory):
    """The published LSNet-T files (plain and distilled, random values) served as the Hub's
    ``jameslahm/lsnet``, and what :data:`HUB_DOWNLOADS` loaded from it, run once for the
    module."""
    root = tmp_path_factory.mktemp('hub')
    files, stored = {}, {}
    for distill in (False, True):
        name = imagenet_filename('t', distill)
        checkpoint, stored[name] = published_classification(reference_shapes, 't', distill)
        files[name] = str(root / name)
        torch.save(checkpoint, files[name])
    (root / 'out').mkdir()
    with served_hub(files, HUB_REPO) as hub:
        result = subprocess.run(
            [sys.executable, '-c', HUB_DOWNLOADS, str(root / 'out')], capture_output=True,
            text=True, timeout=300, env=hub_environment(hub.endpoint, root / 'hf_home'))
    assert result.returncode == 0, result.stderr
    yield dict(files=files, stored=stored, hub=hub, report=json.loads(result.stdout),
               out=root / 'out', hf_home=root / 'hf_home')
    shutil.rmtree(root)  # about 0.5 GB of checkpoints, cached downloads and loaded models


def downloaded_model(hub_downloads, name):
    """The tensors of the model ``name`` of :data:`HUB_DOWNLOADS`."""
    return torch.load(hub_downloads['out'] / f'{name}.pth')


def test_pretrained_downloads_the_published_classifier(hub_downloads):
    assert_same_tensors(downloaded_model(hub_downloads, 'plain'),
                        hub_downloads['stored']['lsnet_t.pth'])


def test_distilled_tag_downloads_both_heads(hub_downloads):
    stored = hub_downloads['stored']['lsnet_t_distill.pth']
    assert any(k.startswith('head_dist.') for k in stored)
    assert_same_tensors(downloaded_model(hub_downloads, 'distilled'), stored)


def test_features_only_downloads_the_backbone(hub_downloads):
    stored = {k: v for k, v in hub_downloads['stored']['lsnet_t.pth'].items()
              if not k.startswith('head.')}
    assert_same_tensors(downloaded_model(hub_downloads, 'features'), stored)


def test_download_comes_from_the_served_hub_into_hf_home(hub_downloads):
    hub = hub_downloads['hub']
    paths = {name: f'/{HUB_REPO}/resolve/main/{name}' for name in hub_downloads['files']}
    paths['lsnet_s.pth'] = f'/{HUB_REPO}/resolve/main/lsnet_s.pth'
    assert {path for _, path in hub.requests} == set(paths.values())
    # Each file is downloaded once; the third model finds lsnet_t.pth in the cache.
    assert [path for method, path in hub.requests if method == 'GET'] == [
        paths['lsnet_t.pth'], paths['lsnet_t_distill.pth']]
    snapshot = hub_downloads['hf_home'] / 'hub' / 'models--jameslahm--lsnet' / 'snapshots'
    for name, served in hub_downloads['files'].items():
        assert filecmp.cmp(snapshot / hub.commit / name, served, shallow=False), name


def test_file_missing_on_the_hub_is_entry_not_found(hub_downloads):
    """The Hub's answer for a file it lacks, not a failed connection (also a subclass of the
    ``EntryNotFoundError`` timm catches when it looks for a ``.safetensors`` alternative)."""
    missing = hub_downloads['report']['missing']
    assert missing[0] == 'RemoteEntryNotFoundError' and 'EntryNotFoundError' in missing


def test_served_hub_answers_plain_http(tmp_path):
    """A plain urllib client (the toolkit's own downloader) gets the file, its size and ETag;
    a missing file is a 404 with the Hub's error code."""
    (tmp_path / 'lsnet_t.pth').write_bytes(b'weights')
    with served_hub({'lsnet_t.pth': str(tmp_path / 'lsnet_t.pth')}, HUB_REPO) as hub:
        url = f'{hub.endpoint}/{HUB_REPO}/resolve/main/lsnet_t.pth'
        with urllib.request.urlopen(url, timeout=10) as response:
            assert (response.status, response.read()) == (200, b'weights')
            assert response.headers['Content-Length'] == '7'
            assert response.headers['X-Repo-Commit'] == hub.commit
            assert response.headers['ETag'].strip('"') == hashlib.sha256(b'weights').hexdigest()
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(url.replace('lsnet_t', 'lsnet_s'), timeout=10)
        error = missing.value
        assert (error.code, error.headers['X-Error-Code']) == (404, 'EntryNotFound')
        error.close()
    assert [method for method, _ in hub.requests] == ['GET', 'GET']
