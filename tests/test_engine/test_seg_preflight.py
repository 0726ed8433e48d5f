"""Clear errors before any segmentation model is built: missing data, weights, bad labels."""
import os.path as osp

import cv2
import numpy as np
import pytest

from lsnet_dense.checkpoints.download import cache_path
from lsnet_dense.checkpoints.hub import hub_url
from lsnet_dense.datasets.demo_ade20k import generate_demo_ade20k
from lsnet_dense.engine import check_datasets, check_pretrained, load_config
from lsnet_dense.errors import PreflightError
from helpers import ROOT, refusal_of

DEMO_CONFIG = osp.join(ROOT, 'configs', 'demo', 'semfpn_lsnet_t_demo_ade20k.py')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
SEG_CONFIGS = [f'{family}_lsnet_{arch}_ade20k.py' for family in ('semfpn', 'upernet')
               for arch in 'tsb']


@pytest.fixture
def demo_root(tmp_path):
    root = tmp_path / 'demo_ade20k'
    generate_demo_ade20k(str(root), num_train=3, num_val=2, height=48, width=64)
    return root


def with_data_root(config, root, **options):
    return load_config(config, {**{f'{loader}.dataset.data_root': str(root)
                                   for loader in LOADERS}, **options})


@pytest.mark.parametrize('name', ['semfpn_lsnet_t_ade20k.py', 'upernet_lsnet_b_ade20k.py'])
def test_missing_ade20k_names_the_folder_and_the_demo(name, tmp_path):
    cfg = with_data_root(osp.join(ROOT, 'configs', name), tmp_path / 'ADEChallengeData2016')
    with pytest.raises(PreflightError) as error:
        check_datasets(cfg, ['train', 'val'])
    message = str(error.value)
    assert 'images/training' in message and 'ADEChallengeData2016.zip' in message
    assert 'make demo-seg' in message


def test_train_tool_stops_on_missing_ade20k_before_building(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    error = refusal_of(
        'train', 'configs/semfpn_lsnet_t_ade20k.py', '--work-dir', tmp_path / 'work',
        '--cfg-options',
        *(f'{loader}.dataset.data_root={tmp_path / "missing"}' for loader in LOADERS),
        monkeypatch=monkeypatch)
    assert 'error: train data not found' in error
    assert 'make demo-seg' in error


@pytest.mark.parametrize('name', SEG_CONFIGS)
def test_pretrained_backbone_that_cannot_be_downloaded_is_named(name, tmp_path, monkeypatch):
    """The configs' URL, with no network (the tests' HF_ENDPOINT refuses connections), from a
    working directory that holds a file of the same name: the check reads the URL's cache only,
    so no file that happens to lie around can stand in for the download."""
    filename = f'lsnet_{name.split("_")[2]}.pth'
    (tmp_path / 'pretrained').mkdir()
    (tmp_path / 'pretrained' / filename).write_bytes(b'')
    monkeypatch.chdir(tmp_path)
    cfg = load_config(osp.join(ROOT, 'configs', name))
    url = cfg.model.backbone.init_cfg.checkpoint
    assert url == hub_url(filename)
    with pytest.raises(PreflightError) as refused:
        check_pretrained(cfg)
    message = str(refused.value)
    assert message.startswith(f'pretrained backbone file: Could not download {url}')
    assert cache_path(url) in message
    assert '--cfg-options model.backbone.init_cfg.checkpoint=PATH' in message


def test_missing_local_pretrained_backbone_names_the_file(tmp_path):
    cfg = load_config(osp.join(ROOT, 'configs', SEG_CONFIGS[0]))
    cfg.model.backbone.init_cfg.checkpoint = path = str(tmp_path / 'lsnet_t.pth')
    with pytest.raises(PreflightError, match=f'Pretrained backbone file not found: {path}'):
        check_pretrained(cfg)


def test_valid_demo_labels_pass_for_the_demo_and_the_ade20k_classes(demo_root):
    check_datasets(with_data_root(DEMO_CONFIG, demo_root), ['train', 'val', 'test'])
    # The same maps are valid ADE20K labels too (1..6 of 150).
    check_datasets(with_data_root(osp.join(ROOT, 'configs', 'semfpn_lsnet_t_ade20k.py'),
                                  demo_root), ['train', 'val'])


def test_label_value_beyond_the_classes_names_file_value_and_count(demo_root):
    path = demo_root / 'annotations' / 'validation' / '000002.png'
    label = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    label[:4, :4] = 9
    cv2.imwrite(str(path), label)
    with pytest.raises(PreflightError) as error:
        check_datasets(with_data_root(DEMO_CONFIG, demo_root), ['train', 'val'])
    message = str(error.value)
    assert str(path) in message and 'value 9' in message
    assert 'DemoADE20KDataset has 6 classes' in message and '1..6' in message


def test_label_check_without_reduce_zero_label(demo_root):
    # Raw maps hold 0..6; read as classes 0..N-1 of a 3-class dataset, 3..6 are out of range.
    dataset = dict(type='BaseSegDataset', data_root=str(demo_root),
                   metainfo=dict(classes=('a', 'b', 'c')), img_suffix='.jpg',
                   seg_map_suffix='.png', reduce_zero_label=False,
                   data_prefix=dict(img_path='images/training',
                                    seg_map_path='annotations/training'))
    cfg = load_config(DEMO_CONFIG, {'train_dataloader.dataset': dataset})
    with pytest.raises(PreflightError, match=r'has 3 classes, so labels must be 0\.\.2 \(255 is '
                       r'ignored\)'):
        check_datasets(cfg, ['train'])


def test_missing_or_colour_label_maps_are_named(demo_root):
    cfg = with_data_root(DEMO_CONFIG, demo_root)
    colour = demo_root / 'annotations' / 'training' / '000001.png'
    cv2.imwrite(str(colour), np.zeros((48, 64, 3), np.uint8))
    with pytest.raises(PreflightError, match='000001.png.*has shape .48, 64, 3.'):
        check_datasets(cfg, ['train'])
    colour.unlink()
    with pytest.raises(PreflightError, match='000001.png.*does not exist'):
        check_datasets(cfg, ['train'])
