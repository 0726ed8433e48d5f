import logging

import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger

from lsnet_dense import LSNet
from helpers import random_state_dict


@pytest.fixture
def log_lines():
    """Messages logged through mmengine's current logger during the test."""
    records = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def _pretrained(arch, path):
    model = LSNet(arch, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    return model


@pytest.mark.parametrize('arch', ['t', 'b'])
@pytest.mark.parametrize('distill', [False, True])
def test_loads_classification_checkpoint(arch, distill, reference_shapes, tmp_path):
    kind = 'classification_distill' if distill else 'classification'
    stored = random_state_dict(reference_shapes[kind][f'lsnet_{arch}'], seed=3)
    path = tmp_path / f'lsnet_{arch}.pth'
    torch.save({'model': {f'module.{k}': v for k, v in stored.items()}, 'epoch': 300}, path)
    model = _pretrained(arch, path)
    state = model.state_dict()
    key = 'blocks2.3.mixer.lkp.cv4.weight'
    assert torch.equal(state[key], stored[key])
    assert torch.equal(state['patch_embed.0.bn.running_var'], stored['patch_embed.0.bn.running_var'])
    table = stored['blocks4.3.mixer.m.attention_biases']  # (heads, 16): a 4x4 grid
    heads = table.shape[0]
    resized = F.interpolate(table.view(1, heads, 4, 4), size=(14, 14), mode='bicubic',
                            align_corners=False).view(heads, 196)
    torch.testing.assert_close(state['blocks4.3.mixer.m.attention_biases'], resized)
    assert state['blocks4.3.mixer.m.attention_bias_idxs'].shape == (196, 196)
    assert torch.equal(state['blocks4.3.mixer.m.attention_bias_idxs'],
                       LSNet(arch).state_dict()['blocks4.3.mixer.m.attention_bias_idxs'])


def test_loads_backbone_part_of_detection_checkpoint(reference_shapes, tmp_path, log_lines):
    stored = random_state_dict(reference_shapes['backbone_detection']['lsnet_s'], seed=4)
    neck = random_state_dict(reference_shapes['neck']['retinanet_lsnet_s'], seed=5)
    checkpoint = {'state_dict': {**{f'backbone.{k}': v for k, v in stored.items()},
                                 **{f'neck.{k}': v for k, v in neck.items()}},
                  'meta': {'epoch': 12}}
    path = tmp_path / 'retinanet.pth'
    torch.save(checkpoint, path)
    state = _pretrained('s', path).state_dict()
    assert all(torch.equal(state[k], v) for k, v in stored.items())
    assert not any('missing keys' in line for line in log_lines)


def test_bare_state_dict_reports_missing_and_unexpected_keys(reference_shapes, tmp_path,
                                                               log_lines):
    stored = random_state_dict(reference_shapes['backbone_detection']['lsnet_t'], seed=6)
    del stored['blocks2.2.ffn.m.pw1.c.weight']
    stored['blocks9.0.weight'] = torch.zeros(1)
    path = tmp_path / 'bare.pth'
    torch.save(stored, path)
    state = _pretrained('t', path).state_dict()
    key = 'blocks4.3.mixer.m.qkv.c.weight'
    assert torch.equal(state[key], stored[key])
    text = '\n'.join(log_lines)
    assert 'blocks2.2.ffn.m.pw1.c.weight' in text and 'blocks9.0.weight' in text


def test_variant_mismatch_names_key_and_shapes(reference_shapes, tmp_path):
    torch.save(random_state_dict(reference_shapes['backbone_detection']['lsnet_t']),
               tmp_path / 't.pth')
    with pytest.raises(ValueError) as error:
        _pretrained('s', tmp_path / 't.pth')
    message = str(error.value)
    assert 'patch_embed.0.c.weight' in message
    assert '(16, 3, 3, 3)' in message and '(24, 3, 3, 3)' in message


def test_file_that_is_not_a_checkpoint(tmp_path):
    path = tmp_path / 'notes.pth'
    path.write_text('not a checkpoint')
    with pytest.raises(ValueError, match='notes.pth is not a readable PyTorch checkpoint'):
        _pretrained('t', path)


def test_checkpoint_of_another_network(tmp_path):
    path = tmp_path / 'resnet.pth'
    torch.save({'state_dict': {'conv1.weight': torch.zeros(64, 3, 7, 7)}}, path)
    with pytest.raises(ValueError, match='holds no LSNet backbone weights'):
        _pretrained('t', path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        _pretrained('t', tmp_path / 'missing.pth')
