"""mmseg's backbone conventions: the deprecated ``pretrained=``, and a stock mmseg config with
LSNet swapped in (configs/examples/semfpn_r50_to_lsnet_t_ade20k.py) training through tools/."""
import os
import os.path as osp
import subprocess
import sys
import warnings

import pytest
import torch

from lsnet_dense import LSNet
from lsnet_dense.datasets.demo_ade20k import generate_demo_ade20k
from helpers import ROOT

EXAMPLE = osp.join(ROOT, 'configs', 'examples', 'semfpn_r50_to_lsnet_t_ade20k.py')


@pytest.fixture
def backbone_file(tmp_path):
    path = tmp_path / 'lsnet_t_backbone.pth'
    torch.save({'state_dict': LSNet('t').state_dict()}, path)
    return str(path)


def test_pretrained_is_a_deprecated_alias_of_init_cfg(backbone_file):
    with pytest.warns(FutureWarning, match='pretrained is deprecated'):
        model = LSNet('t', pretrained=backbone_file)
    assert model.init_cfg == dict(type='Pretrained', checkpoint=backbone_file)
    model.init_weights()
    reference = LSNet('t', init_cfg=dict(type='Pretrained', checkpoint=backbone_file))
    reference.init_weights()
    for (key, value), expected in zip(model.state_dict().items(),
                                      reference.state_dict().values()):
        assert torch.equal(value, expected), key


def test_pretrained_and_init_cfg_together_is_an_error(backbone_file):
    with pytest.raises(ValueError, match=r'both pretrained=.* and init_cfg=.*model.pretrained=None'):
        LSNet('t', pretrained=backbone_file,
              init_cfg=dict(type='Pretrained', checkpoint=backbone_file))


def test_mmseg_encoder_decoder_hands_its_pretrained_to_lsnet(backbone_file):
    from mmseg.registry import MODELS
    from mmengine.config import Config
    cfg = Config.fromfile(EXAMPLE)
    cfg.model.pretrained = backbone_file
    cfg.model.backbone.init_cfg = None
    # Recorded by hand: pytest.warns would re-emit mmseg's own warnings out of their modules.
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter('always', FutureWarning)
        model = MODELS.build(cfg.model)
    assert any('pretrained is deprecated' in str(w.message) for w in shown
               if w.category is FutureWarning)
    assert model.backbone.init_cfg == dict(type='Pretrained', checkpoint=backbone_file)


def test_stock_mmseg_config_with_lsnet_trains(tmp_path):
    """The README recipe: mmseg's Semantic FPN config with LSNet swapped in, 2 iterations on
    generated ADE20K-layout data, through tools/train.py (SyncBN reverted in one process)."""
    data_root = tmp_path / 'data'
    generate_demo_ade20k(str(data_root), num_train=4, num_val=1)
    config = tmp_path / 'swap_on_demo_data.py'
    config.write_text(f'''
_base_ = {EXAMPLE!r}
model = dict(backbone=dict(init_cfg=None), data_preprocessor=dict(size=(64, 64)))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomCrop', crop_size=(64, 64)),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root={str(data_root)!r}, pipeline=train_pipeline))
train_cfg = dict(max_iters=2, val_interval=100)
val_cfg = None
val_dataloader = None
val_evaluator = None
default_hooks = dict(checkpoint=dict(interval=2), logger=dict(interval=1))
''')
    work_dir = tmp_path / 'work'
    result = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'train.py'), str(config),
                             '--work-dir', str(work_dir)], cwd=ROOT, capture_output=True,
                            text=True, env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert result.returncode == 0, result.stderr[-3000:]
    assert (work_dir / 'iter_2.pth').is_file()


def test_missing_model_level_pretrained_file_is_named_before_building(tmp_path):
    config = tmp_path / 'pretrained_by_model.py'
    config.write_text(f'''
_base_ = {EXAMPLE!r}
model = dict(pretrained='pretrained/missing_lsnet_t.pth', backbone=dict(init_cfg=None))
train_dataloader = dict(dataset=dict(data_root={str(tmp_path)!r}))
''')
    from lsnet_dense.engine import check_pretrained, load_config
    from lsnet_dense.errors import PreflightError
    with pytest.raises(PreflightError, match=r'missing_lsnet_t.pth.*\n.*model.pretrained=None'):
        check_pretrained(load_config(str(config)))
