"""The README's three recipes for your own data, run as a user runs them, on data shaped like
real photographs (``own_data``: many sizes, EXIF rotations, grayscale, RGBA and CMYK images,
class names with spaces, an image without objects): a COCO json, Pascal VOC xml folders, and
images with PNG label maps. Each checks the data, trains through ``tools/train.py`` with the
example config and evaluates; the COCO recipe fine-tunes from a published mmdet 2.x RetinaNet
of 80 classes, converted on load."""
import json
import os.path as osp
import subprocess
import sys

import pytest
import torch

from lsnet_dense.apis import build_model_from_config
from helpers import ROOT, published_dense
from own_data import CLASSES, SEG_CLASSES, write_coco_dataset, write_seg_dataset, write_voc_dataset

EXAMPLES = osp.join(ROOT, 'configs', 'examples')
OWN_COCO = osp.join(EXAMPLES, 'retinanet_lsnet_t_own_coco.py')
OWN_VOC = osp.join(EXAMPLES, 'retinanet_lsnet_t_own_voc.py')
OWN_SEG = osp.join(EXAMPLES, 'semfpn_lsnet_t_own_seg.py')
# Small inputs, one epoch, no ImageNet download: minutes on a 2-core CPU would be hours.
DETECTION_OPTIONS = (
    'model.backbone.init_cfg=None', 'train_dataloader.batch_size=2',
    'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
    'train_dataloader.dataset.pipeline.2.scale=(256,192)', 'val_dataloader.num_workers=0',
    'val_dataloader.persistent_workers=False', 'val_dataloader.dataset.pipeline.1.scale=(256,192)',
    'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
    'test_dataloader.dataset.pipeline.1.scale=(256,192)',
    'train_cfg.max_epochs=1', 'default_hooks.logger.interval=1',
    # After one epoch no score reaches the configs' 0.05: COCOeval would have nothing to score.
    'model.test_cfg.score_thr=0.0')


def run_tool(*args, ok=True):
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT,
                            timeout=600)
    output = result.stdout + result.stderr
    assert (result.returncode == 0) == ok, output[-4000:]
    return output


def data_options(root, images, train_json, val_json):
    return (f'train_dataloader.dataset.data_root={root}/',
            f'train_dataloader.dataset.ann_file={train_json}',
            f'train_dataloader.dataset.data_prefix.img={images["train"]}',
            *(option for loader in ('val', 'test') for option in (
                f'{loader}_dataloader.dataset.data_root={root}/',
                f'{loader}_dataloader.dataset.ann_file={val_json}',
                f'{loader}_dataloader.dataset.data_prefix.img={images["val"]}',
                f'{loader}_evaluator.ann_file={root}/{val_json}')))


def metrics_of(work_dir):
    with open(osp.join(work_dir, 'test_metrics.json')) as f:
        return json.load(f)['metrics']


def bbox_map(work_dir):
    return metrics_of(work_dir)['coco/bbox_mAP']


@pytest.fixture(scope='module')
def published_retinanet(tmp_path_factory, reference_shapes):
    """The published LSNet-T RetinaNet (mmdet 2.x layout, COCO's 80 classes)."""
    model = build_model_from_config(
        osp.join(ROOT, 'configs', 'retinanet_lsnet_t_coco.py'),
        {'model.backbone.init_cfg': None})[0]
    path = tmp_path_factory.mktemp('published') / 'lsnet_t_retinanet.pth'
    torch.save(published_dense(reference_shapes, 'retinanet', 't', model), path)
    return str(path)


def test_coco_recipe_fine_tunes_a_published_detector(tmp_path, published_retinanet):
    paths = write_coco_dataset(tmp_path / 'my_coco')
    root = paths['root']
    options = data_options(root, dict(train='images/train/', val='images/val/'),
                           'annotations/train.json', 'annotations/val.json')
    report = run_tool('tools/analysis_tools/check_dataset.py', OWN_COCO, '--cfg-options',
                      *options)
    work_dir = str(tmp_path / 'work_dir')
    log = run_tool('tools/train.py', OWN_COCO, '--work-dir', work_dir, '--cfg-options',
                   *options, *DETECTION_OPTIONS, f'load_from={published_retinanet}')
    assert 'bbox_head.retina_cls.weight (720, 256, 3, 3) in the checkpoint' in log
    assert 'converted in memory from the mmcv 1.x layout' in log
    run_tool('tools/test.py', OWN_COCO, osp.join(work_dir, 'epoch_1.pth'), '--work-dir',
             work_dir, '--cfg-options', *options, *DETECTION_OPTIONS)
    assert 0 <= bbox_map(work_dir) <= 1
    assert f'coco/bbox_{CLASSES[0]}_AP' in metrics_of(work_dir)
    for name in CLASSES:
        assert name in report


def test_voc_recipe_converts_then_trains(tmp_path):
    paths = write_voc_dataset(tmp_path / 'my_voc')
    root = paths['root']
    for split in ('train', 'val'):
        output = run_tool('tools/dataset_converters/voc_to_coco.py', f'{root}/JPEGImages',
                          f'{root}/Annotations', f'{root}/annotations/{split}.json',
                          '--split-file', f'{root}/ImageSets/Main/{split}.txt',
                          '--classes', *CLASSES)
        assert f'written: {root}/annotations/{split}.json' in output
    options = data_options(root, dict(train='JPEGImages/', val='JPEGImages/'),
                           'annotations/train.json', 'annotations/val.json')
    run_tool('tools/analysis_tools/check_dataset.py', OWN_VOC, '--cfg-options', *options)
    work_dir = str(tmp_path / 'work_dir')
    run_tool('tools/train.py', OWN_VOC, '--work-dir', work_dir, '--cfg-options', *options,
             *DETECTION_OPTIONS, 'load_from=None')
    run_tool('tools/test.py', OWN_VOC, osp.join(work_dir, 'epoch_1.pth'), '--work-dir',
             work_dir, '--cfg-options', *options, *DETECTION_OPTIONS)
    assert 0 <= bbox_map(work_dir) <= 1


def test_segmentation_recipe_trains_and_scores_the_classes(tmp_path):
    paths = write_seg_dataset(tmp_path / 'my_seg')
    root = paths['root']
    options = (f'train_dataloader.dataset.data_root={root}/',
               f'val_dataloader.dataset.data_root={root}/',
               f'test_dataloader.dataset.data_root={root}/',
               'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
               'test_dataloader.dataset.pipeline.1.scale=(256,128)',
               'model.backbone.init_cfg=None', 'train_dataloader.batch_size=2',
               'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
               'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
               'train_dataloader.dataset.pipeline.2.scale=(256,128)',
               'train_dataloader.dataset.pipeline.3.crop_size=(128,128)',
               'model.data_preprocessor.size=(128,128)',
               'val_dataloader.dataset.pipeline.1.scale=(256,128)',
               'train_cfg.max_iters=4', 'train_cfg.val_interval=4',
               'default_hooks.checkpoint.interval=4', 'default_hooks.logger.interval=1')
    run_tool('tools/analysis_tools/check_dataset.py', OWN_SEG, '--cfg-options', *options)
    work_dir = str(tmp_path / 'work_dir')
    run_tool('tools/train.py', OWN_SEG, '--work-dir', work_dir, '--cfg-options', *options)
    run_tool('tools/test.py', OWN_SEG, osp.join(work_dir, 'iter_4.pth'), '--work-dir', work_dir,
             '--cfg-options', *options)
    with open(osp.join(work_dir, 'test_metrics.json')) as f:
        metrics = json.load(f)['metrics']
    assert 0 <= metrics['mIoU'] <= 100
    assert list(metrics['per_class']) == list(SEG_CLASSES)
