"""Helpers shared by the tests of tools/: loading a tool as a module, small configs."""
import importlib.util
import os.path as osp
import sys
import textwrap

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

# A RetinaNet on LSNet-T as the published one (neck and head settings), without datasets.
RETINANET_CONFIG = textwrap.dedent('''
    _base_ = 'mmdet::_base_/models/retinanet_r50_fpn.py'
    default_scope = 'mmdet'
    custom_imports = dict(imports=['lsnet_dense'], allow_failed_imports=False)
    model = dict(
        backbone=dict(_delete_=True, type='LSNet', arch='t', out_indices=(0, 1, 2, 3)),
        neck=dict(_delete_=True, type='LSNetFPN', in_channels=[64, 128, 256, 384],
                  out_channels=256, start_level=0, add_extra_convs='on_input', num_outs=5))
''')

# Semantic FPN on LSNet-T as published, without datasets.
SEMFPN_CONFIG = textwrap.dedent('''
    _base_ = 'mmseg::_base_/models/fpn_r50.py'
    default_scope = 'mmseg'
    custom_imports = dict(imports=['lsnet_dense'], allow_failed_imports=False)
    norm_cfg = dict(type='BN', requires_grad=True)
    model = dict(
        pretrained=None,
        backbone=dict(_delete_=True, type='LSNet', arch='t', out_indices=(0, 1, 2, 3)),
        neck=dict(type='LSNetFPN', in_channels=[64, 128, 256, 384], out_channels=256,
                  num_outs=4),
        decode_head=dict(feature_strides=[8, 16, 32, 64], num_classes=150, norm_cfg=norm_cfg))
''')


def load_tool(path):
    """tools/PATH.py (e.g. ``'analysis_tools/get_flops'``) as a module, so tests call its
    main(argv) without a subprocess."""
    spec = importlib.util.spec_from_file_location(f'tool_{osp.basename(path)}',
                                                  osp.join(ROOT, 'tools', f'{path}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def refusal_of(path, *args, monkeypatch):
    """The error with which tools/PATH.py's main() stops for these arguments, in this process.

    For refusals that come before anything is built (the pre-flight checks): a subprocess would
    spend nearly all its time importing. The tool stops with ``sys.exit('error: ...')``, which is
    what a user sees, with exit status 1; any other exception fails the test.
    """
    tool = load_tool(path)
    monkeypatch.setattr(sys, 'argv', [f'{osp.basename(path)}.py', *map(str, args)])
    with pytest.raises(SystemExit) as stopped:
        tool.main()
    assert isinstance(stopped.value.code, str), stopped.value.code  # exit status 1, a message
    return stopped.value.code


def write_config(tmp_path, text, name='model_cfg.py'):
    path = tmp_path / name
    path.write_text(text)
    return str(path)

# The same models with what inference needs: a test pipeline and a visualizer.
RETINANET_INFERENCE_CONFIG = RETINANET_CONFIG + textwrap.dedent('''
    visualizer = dict(type='DetLocalVisualizer', name='visualizer')
    test_dataloader = dict(dataset=dict(type='CocoDataset', pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(128, 128), keep_ratio=True),
        dict(type='PackDetInputs',
             meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))]))
''')
SEMFPN_INFERENCE_CONFIG = SEMFPN_CONFIG + textwrap.dedent('''
    visualizer = dict(type='SegLocalVisualizer', name='visualizer')
    test_dataloader = dict(dataset=dict(type='ADE20KDataset', pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(128, 128), keep_ratio=True),
        dict(type='PackSegInputs')]))
''')
