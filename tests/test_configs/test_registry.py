import subprocess
import sys
import textwrap

import pytest
import torch
from mmengine.registry import DefaultScope

import lsnet_dense  # noqa: F401  registers the modules


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
def test_build_backbone_and_neck_under_scope(scope):
    if scope == 'mmdet':
        from mmdet.registry import MODELS
    else:
        from mmseg.registry import MODELS
    with DefaultScope.overwrite_default_scope(scope):
        backbone = MODELS.build(dict(type='LSNet', arch='t', out_indices=(0, 1, 2, 3)))
        neck = MODELS.build(dict(type='LSNetFPN', in_channels=[64, 128, 256, 384],
                                 out_channels=64, num_outs=4))
    outs = neck(backbone.eval()(torch.zeros(1, 3, 64, 64)))
    assert len(outs) == 4


def test_custom_imports_in_a_config_registers_lsnet(tmp_path):
    """What a user does in an existing project: custom_imports + backbone=dict(type='LSNet')."""
    config = tmp_path / 'cfg.py'
    config.write_text(textwrap.dedent('''
        custom_imports = dict(imports=['lsnet_dense'], allow_failed_imports=False)
        backbone = dict(type='LSNet', arch='s', out_indices=(1, 2, 3))
    '''))
    script = textwrap.dedent(f'''
        from mmengine.config import Config
        from mmengine.registry import DefaultScope
        from mmdet.registry import MODELS as DET
        from mmseg.registry import MODELS as SEG
        cfg = Config.fromfile({str(config)!r})
        for scope, registry in (('mmdet', DET), ('mmseg', SEG)):
            with DefaultScope.overwrite_default_scope(scope):
                print(scope, type(registry.build(cfg.backbone)).__name__)
    ''')
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert 'mmdet LSNet' in result.stdout and 'mmseg LSNet' in result.stdout
