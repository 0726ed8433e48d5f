"""lsnet_dense in an mmdet-only or mmseg-only environment.

Each test runs a fresh interpreter in which one library cannot be imported (as if it were not
installed) and trains a config the way mmdet's / mmseg's own tools do: ``Config.fromfile``
imports ``lsnet_dense`` through the config's ``custom_imports``, then a plain mmengine Runner.
"""
import os
import os.path as osp
import subprocess
import sys
import textwrap

import torch

from lsnet_dense.datasets import generate_demo_coco
from helpers import FPN_SETTINGS, ROOT, random_fpn_state

# Prepended to each script: the libraries named in LSNET_TEST_MISSING cannot be imported.
MISSING = textwrap.dedent('''
    import importlib.abc, os, sys

    class Missing(importlib.abc.MetaPathFinder):
        blocked = set(os.environ['LSNET_TEST_MISSING'].split(','))

        def find_spec(self, name, path=None, target=None):
            if name.split('.')[0] in self.blocked:
                raise ModuleNotFoundError(f'No module named {name!r}', name=name)

    sys.meta_path.insert(0, Missing())
''')

TRAIN = textwrap.dedent('''
    import sys
    import torch
    from mmengine.config import Config
    from mmengine.runner import Runner

    config, options = torch.load(sys.argv[1], weights_only=False)
    cfg = Config.fromfile(config)  # imports lsnet_dense (custom_imports)
    cfg.merge_from_dict(options)
    Runner.from_cfg(cfg).train()
    import lsnet_dense.registry
    print('served scopes:', lsnet_dense.registry.SCOPES)
    print('imported:', sorted({'mmdet', 'mmseg'} & set(sys.modules)))
''')


def run_without(missing, script, *args):
    env = dict(os.environ, PYTHONWARNINGS='ignore', LSNET_TEST_MISSING=missing)
    return subprocess.run([sys.executable, '-c', MISSING + script, *args], cwd=ROOT,
                          capture_output=True, text=True, env=env)


def loader_options(split, root, batch_size=2):
    return {f'{split}_dataloader.dataset.data_root': root + '/',
            f'{split}_dataloader.batch_size': batch_size, f'{split}_dataloader.num_workers': 0,
            f'{split}_dataloader.persistent_workers': False}


def no_validation():
    return {'val_cfg': None, 'val_dataloader': None, 'val_evaluator': None}


def test_mmdet_only_trains_the_example_config(tmp_path):
    root = str(tmp_path / 'coco')
    generate_demo_coco(root, num_train=4, num_val=1, height=64, width=64, seed=6)
    config = osp.join(ROOT, 'configs', 'examples', 'retinanet_r50_to_lsnet_t_coco.py')
    options = dict(loader_options('train', root), **no_validation(), **{
        'work_dir': str(tmp_path / 'work'),
        'train_dataloader.dataset.ann_file': 'annotations/instances_train.json',
        'train_dataloader.dataset.data_prefix.img': 'train/',
        'train_dataloader.dataset.metainfo': dict(classes=('circle', 'square', 'triangle')),
        'train_dataloader.dataset.pipeline.2.scale': (96, 96),
        'model.bbox_head.num_classes': 3, 'model.backbone.init_cfg': None,
        'train_cfg.max_epochs': 1})
    torch.save((config, options), tmp_path / 'job.pth')
    result = run_without('mmseg', TRAIN, str(tmp_path / 'job.pth'))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "served scopes: ('mmdet',)" in result.stdout
    assert "imported: ['mmdet']" in result.stdout
    assert osp.isfile(tmp_path / 'work' / 'epoch_1.pth')


def test_mmseg_only_trains_the_segmentation_demo_config(tmp_path):
    from lsnet_dense.datasets.demo_ade20k import generate_demo_ade20k
    root = str(tmp_path / 'ade')
    generate_demo_ade20k(root, num_train=4, num_val=1, height=64, width=64, seed=6)
    config = osp.join(ROOT, 'configs', 'demo', 'semfpn_lsnet_t_demo_ade20k.py')
    options = dict(loader_options('train', root), **no_validation(), **{
        'work_dir': str(tmp_path / 'work'), 'train_cfg.max_iters': 2})
    torch.save((config, options), tmp_path / 'job.pth')
    result = run_without('mmdet', TRAIN, str(tmp_path / 'job.pth'))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "served scopes: ('mmseg',)" in result.stdout
    assert "imported: ['mmseg']" in result.stdout
    assert osp.isfile(tmp_path / 'work' / 'iter_2.pth')


NECK_OUTPUTS = textwrap.dedent('''
    import sys
    import torch
    from lsnet_dense import LSNetFPN

    in_channels, cases = torch.load(sys.argv[1], weights_only=False)
    outputs = []
    for settings, state, feats in cases:
        neck = LSNetFPN(in_channels, 8, **settings).eval()
        neck.load_state_dict(state)
        with torch.no_grad():
            outputs.append(neck(feats))
    torch.save(outputs, sys.argv[2])
''')


def test_mmseg_only_neck_equals_mmdet_fpn(tmp_path):
    """Without mmdet, LSNetFPN's layers come from mmseg's FPN, whose end_level and
    add_extra_convs=True mean something else: the arguments keep mmdet's meaning."""
    from mmdet.models.necks import FPN
    in_channels, cases, expected = [16, 24, 32, 40], [], []
    for settings in FPN_SETTINGS:
        reference = FPN(in_channels, 8, **settings).eval()
        state = random_fpn_state(reference)
        reference.load_state_dict(state)
        feats = [torch.randn(1, c, 32 // 2**i, 40 // 2**i) for i, c in enumerate(in_channels)]
        with torch.no_grad():
            expected.append(reference(feats))
        cases.append((settings, state, feats))
    torch.save((in_channels, cases), tmp_path / 'cases.pth')
    result = run_without('mmdet', NECK_OUTPUTS, str(tmp_path / 'cases.pth'),
                         str(tmp_path / 'outputs.pth'))
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = torch.load(tmp_path / 'outputs.pth')
    for settings, outs, reference_outs in zip(FPN_SETTINGS, outputs, expected):
        assert len(outs) == len(reference_outs), settings
        assert all(torch.equal(a, b) for a, b in zip(outs, reference_outs)), settings


def test_neither_library_leaves_the_model_and_names_what_the_rest_needs():
    """``import lsnet_dense`` is silent and gives the model; the OpenMMLab side says what to
    install."""
    script = ('import lsnet_dense, torch\n'
              'features = lsnet_dense.LSNet("t").eval()(torch.randn(1, 3, 64, 64))\n'
              'print(len(features), lsnet_dense.__all__)\n'
              'import lsnet_dense.openmmlab')
    result = run_without('mmdet,mmseg', script)
    assert result.stdout.split('\n')[0] == "4 ['LSNet', 'LSNetClassifier', '__version__']"
    assert result.returncode != 0
    assert ('ImportError: lsnet_dense.openmmlab needs mmengine with mmdet (detection) or '
            'mmsegmentation (segmentation), and neither is installed') in result.stderr
