"""tools/model_converters/convert_checkpoint.py and lsnet_dense.checkpoints.conversion on synthetic
checkpoints shaped like the published ones (tests/data/lsnet_official_state_dict_shapes.json)."""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F

from lsnet_dense import LSNet
from lsnet_dense.apis import build_model_from_config
from lsnet_dense.checkpoints.conversion import convert_checkpoint, detect_arch
from helpers import (COCO_CLASSES, RETINANET_CONFIG, ROOT, SEMFPN_CONFIG, load_tool,
                     published_classification, published_dense, random_state_dict, write_config)


@pytest.fixture(scope='module')
def convert_tool():
    return load_tool('model_converters/convert_checkpoint')


@pytest.fixture(scope='module')
def retinanet(tmp_path_factory):
    config = write_config(tmp_path_factory.mktemp('cfg'), RETINANET_CONFIG)
    return config, build_model_from_config(config)[0]


@pytest.mark.parametrize('arch,distill', [('t', False), ('s', True), ('b', False)])
def test_classification_becomes_strict_loading_backbone_file(arch, distill, reference_shapes,
                                                             tmp_path, convert_tool, capsys):
    checkpoint, stored = published_classification(reference_shapes, arch, distill)
    src, dst = tmp_path / 'lsnet.pth', tmp_path / 'out' / 'lsnet_backbone.pth'
    torch.save(checkpoint, src)
    convert_tool.main([str(src), str(dst), '--arch', arch])
    output = capsys.readouterr().out

    converted = torch.load(dst)
    model = LSNet(arch)
    model.load_state_dict(converted['state_dict'], strict=True)
    assert converted['meta']['lsnet_arch'] == arch
    key = 'blocks3.3.mixer.lkp.cv4.weight'
    assert torch.equal(converted['state_dict'][key], stored[key])
    table = stored['blocks4.3.mixer.m.attention_biases']
    resized = F.interpolate(table.view(1, -1, 4, 4), size=(14, 14), mode='bicubic',
                            align_corners=False).view(table.shape[0], 196)
    torch.testing.assert_close(converted['state_dict']['blocks4.3.mixer.m.attention_biases'],
                               resized)
    assert torch.equal(converted['state_dict']['blocks4.3.mixer.m.attention_bias_idxs'],
                       model.state_dict()['blocks4.3.mixer.m.attention_bias_idxs'])

    heads = [k for k in stored if k.startswith(('head.', 'head_dist.'))]
    training_state = [k for k in checkpoint if k != 'model']  # model_ema, optimizer, ..., args
    assert f'{len(stored)} keys renamed, {len(heads) + len(training_state)} dropped, 5 bias ' \
           'tables resized, 5 bias indices replaced, 0 could not be placed' in output
    for entry in training_state:
        assert f'{entry} (top-level entry, not model weights)' in output
    assert 'module.patch_embed.0.c.weight -> patch_embed.0.c.weight' in output
    assert 'head.l.weight (classification head)' in output
    assert 'blocks4.11.mixer.m.attention_biases: (4, 16) -> (4, 196)' in output
    assert 'blocks4.11.mixer.m.attention_bias_idxs: (16, 16) -> (196, 196)' in output
    assert 'checked: loads into LSNet with strict=True' in output
    # The converted file is what a config's init_cfg points at.
    pretrained = LSNet(arch, init_cfg=dict(type='Pretrained', checkpoint=str(dst)))
    pretrained.init_weights()
    assert torch.equal(pretrained.state_dict()[key], stored[key])


def test_arch_is_detected_from_shapes(reference_shapes):
    for arch in ('t', 's', 'b'):
        backbone = random_state_dict(reference_shapes['backbone_detection'][f'lsnet_{arch}'])
        assert detect_arch(backbone) == arch


def test_other_variant_than_asked_is_refused(reference_shapes, tmp_path, convert_tool, capsys):
    checkpoint, _ = published_classification(reference_shapes, 't')
    torch.save(checkpoint, tmp_path / 't.pth')
    with pytest.raises(SystemExit) as error:
        convert_tool.main([str(tmp_path / 't.pth'), str(tmp_path / 'out.pth'), '--arch', 's'])
    message = str(error.value)
    assert 'holds LSNet-T weights' in message and 'LSNet-S was asked for' in message
    assert '(16, 3, 3, 3)' in message
    assert not (tmp_path / 'out.pth').exists()


def test_other_architecture_is_refused(tmp_path, convert_tool):
    torch.save({'state_dict': {'conv1.weight': torch.zeros(64, 3, 7, 7),
                               'fc.weight': torch.zeros(1000, 512)}}, tmp_path / 'resnet.pth')
    with pytest.raises(SystemExit, match='holds no LSNet backbone weights'):
        convert_tool.main([str(tmp_path / 'resnet.pth'), str(tmp_path / 'out.pth')])


def test_lsnet_of_unknown_shape_is_refused(reference_shapes):
    checkpoint, stored = published_classification(reference_shapes, 't')
    del checkpoint['model']['module.blocks3.7.ffn.m.pw2.c.weight']
    with pytest.raises(ValueError, match=r'not an LSNet-T, -S or -B checkpoint[\s\S]*'
                                         r'blocks3.7.ffn.m.pw2.c.weight missing'):
        convert_checkpoint(checkpoint, 'odd.pth')


def test_retinanet_checkpoint_loads_into_the_config_model(reference_shapes, retinanet, tmp_path,
                                                          convert_tool, capsys):
    config, model = retinanet
    checkpoint = published_dense(reference_shapes, 'retinanet', 't', model)
    src, dst = tmp_path / 'retinanet_2x.pth', tmp_path / 'retinanet_3x.pth'
    torch.save(checkpoint, src)
    convert_tool.main([str(src), str(dst), '--config', config])
    output = capsys.readouterr().out

    converted = torch.load(dst)
    model.load_state_dict(converted['state_dict'], strict=True)
    for key in ('neck.fpn_convs.4.conv.weight', 'bbox_head.retina_cls.weight',
                'backbone.blocks4.3.mixer.m.attention_biases'):
        assert torch.equal(converted['state_dict'][key], checkpoint['state_dict'][key])
    assert converted['meta']['dataset_meta']['classes'] == COCO_CLASSES
    assert converted['meta']['epoch'] == 12
    assert '0 keys renamed, 1 dropped, 0 bias tables resized, 5 bias indices replaced, ' \
           '0 could not be placed, 0 kept unchecked' in output
    assert 'optimizer (top-level entry, not model weights)' in output
    assert 'meta.CLASSES -> meta.dataset_meta.classes' in output
    assert 'checked: loads into RetinaNet with strict=True' in output


def test_semantic_fpn_checkpoint_loads_into_the_config_model(reference_shapes, tmp_path):
    config = write_config(tmp_path, SEMFPN_CONFIG)
    model = build_model_from_config(config)[0]
    checkpoint = published_dense(reference_shapes, 'semfpn', 't', model)
    checkpoint['meta'].update(CLASSES=('wall', 'floor'), PALETTE=[[1, 2, 3], [4, 5, 6]])
    converted, report = convert_checkpoint(checkpoint, 'semfpn.pth', 't', model.state_dict())
    model.load_state_dict(converted['state_dict'], strict=True)
    assert converted['meta']['dataset_meta'] == {'classes': ('wall', 'floor'),
                                                 'palette': [[1, 2, 3], [4, 5, 6]]}
    assert 'meta.PALETTE -> meta.dataset_meta.palette' in report.meta


def test_extra_and_missing_keys_against_the_config(reference_shapes, retinanet):
    _, model = retinanet
    checkpoint = published_dense(reference_shapes, 'retinanet', 't', model)
    checkpoint['state_dict']['bbox_head.extra_conv.weight'] = torch.zeros(1)
    converted, report = convert_checkpoint(checkpoint, 'retinanet.pth', None, model.state_dict())
    assert report.unplaced == ['bbox_head.extra_conv.weight']
    model.load_state_dict(converted['state_dict'], strict=True)

    del checkpoint['state_dict']['bbox_head.retina_reg.bias']
    with pytest.raises(ValueError, match=r'1 missing tensors[\s\S]*bbox_head.retina_reg.bias'):
        convert_checkpoint(checkpoint, 'retinanet.pth', None, model.state_dict())


def test_dense_checkpoint_of_other_variant_than_config_is_refused(reference_shapes, retinanet,
                                                                  tmp_path, convert_tool):
    config, model = retinanet
    checkpoint = published_dense(reference_shapes, 'retinanet', 't', model)
    torch.save(checkpoint, tmp_path / 't.pth')
    with pytest.raises(SystemExit, match='holds LSNet-T weights.*LSNet-S was asked for'):
        convert_tool.main([str(tmp_path / 't.pth'), str(tmp_path / 'o.pth'), '--config', config,
                           '--cfg-options', 'model.backbone.arch=s',
                           'model.neck.in_channels=[96,192,320,448]'])


def test_without_config_neck_and_heads_are_kept_unchecked(reference_shapes, retinanet):
    _, model = retinanet
    checkpoint = published_dense(reference_shapes, 'retinanet', 't', model)
    checkpoint['state_dict'] = {f'module.{k}': v for k, v in checkpoint['state_dict'].items()}
    converted, report = convert_checkpoint(checkpoint, 'retinanet.pth')
    assert len(report.renamed) == len(checkpoint['state_dict'])
    assert 'bbox_head.retina_cls.weight' in report.unchecked
    model.load_state_dict(converted['state_dict'], strict=True)


@pytest.mark.parametrize('config', ['retinanet_lsnet_s_coco.py', 'mask_rcnn_lsnet_t_coco.py',
                                    'semfpn_lsnet_b_ade20k.py'])
def test_published_configs(config, reference_shapes, tmp_path):
    """The project's own configs accept converted published checkpoints."""
    model, cfg = build_model_from_config(osp.join(ROOT, 'configs', config))
    task = config.split('_lsnet')[0]
    arch = cfg.model.backbone.arch
    checkpoint = published_dense(reference_shapes, task, arch, model)
    converted, report = convert_checkpoint(checkpoint, config, arch, model.state_dict())
    model.load_state_dict(converted['state_dict'], strict=True)
    assert not report.unplaced
