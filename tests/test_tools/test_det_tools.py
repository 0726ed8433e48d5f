"""tools/train.py, tools/test.py and tools/analysis_tools/report.py on a tiny generated COCO
dataset."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from mmdet.datasets import CocoDataset
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from lsnet_dense.datasets import generate_demo_coco
from helpers import ROOT, refusal_of

DEMO_CONFIG = osp.join(ROOT, 'configs', 'demo', 'retinanet_lsnet_t_demo.py')


def run_tool(tool, *args, cwd=ROOT):
    """Run ``tools/<tool>`` as a user would, from ``cwd``."""
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    return subprocess.run([sys.executable, osp.join(ROOT, tool), *args], cwd=cwd,
                          capture_output=True, text=True, env=env)


def data_options(root):
    """--cfg-options that point the demo config at ``root`` and make it tiny and fast."""
    return ['--cfg-options',
            f'train_dataloader.dataset.data_root={root}/',
            f'val_dataloader.dataset.data_root={root}/',
            f'test_dataloader.dataset.data_root={root}/',
            f'val_evaluator.ann_file={root}/annotations/instances_val.json',
            f'test_evaluator.ann_file={root}/annotations/instances_val.json',
            'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
            'val_dataloader.persistent_workers=False', 'test_dataloader.num_workers=0',
            'test_dataloader.persistent_workers=False',
            'train_cfg.max_epochs=1', 'train_cfg.val_interval=1']


@pytest.fixture(scope='module')
def tiny_coco(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('coco'))
    generate_demo_coco(root, num_train=8, num_val=4, height=128, width=128, seed=1)
    return root


@pytest.fixture(scope='module')
def trained(tiny_coco, tmp_path_factory):
    """Train one epoch (2 iterations) then test, through the tools as a user would."""
    work_dir = str(tmp_path_factory.mktemp('work'))
    result = run_tool('tools/train.py', DEMO_CONFIG, '--work-dir', work_dir,
                      *data_options(tiny_coco))
    assert result.returncode == 0, result.stderr[-3000:]
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    detections = osp.join(work_dir, 'detections')
    result = run_tool('tools/test.py', DEMO_CONFIG, checkpoint, '--work-dir', work_dir,
                      '--out', osp.join(work_dir, 'raw.pkl'), *data_options(tiny_coco),
                      f'test_evaluator.outfile_prefix={detections}',
                      # An untrained model scores below the default 0.05: keep its boxes so
                      # that COCOeval has detections to score.
                      'model.test_cfg.score_thr=0.0')
    assert result.returncode == 0, result.stderr[-3000:]
    return work_dir, detections


def test_train_then_test_writes_checkpoint_metrics_and_raw_results(trained):
    work_dir, _ = trained
    with open(osp.join(work_dir, 'test_metrics.json')) as f:
        record = json.load(f)
    assert record['config'] == DEMO_CONFIG
    assert {'coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_circle_AP'} <= set(record['metrics'])
    assert osp.getsize(osp.join(work_dir, 'raw.pkl')) > 0


def test_report_equals_cocoeval_on_the_same_detections(trained, tiny_coco):
    work_dir, detections = trained
    result = run_tool('tools/analysis_tools/report.py', osp.join(work_dir, 'test_metrics.json'))
    assert result.returncode == 0, result.stderr
    assert '| this run | bbox |' in result.stdout
    with open(osp.join(work_dir, 'report.json')) as f:
        report = json.load(f)
    with open(osp.join(work_dir, 'report.csv')) as f:
        assert f.readline().startswith('table,model,type,AP')

    gt = COCO(osp.join(tiny_coco, 'annotations', 'instances_val.json'))
    with open(f'{detections}.bbox.json') as f:
        dets = json.load(f)
    assert dets
    coco_eval = COCOeval(gt, gt.loadRes(dets), 'bbox')
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()
    row = report['summary'][0]
    # In percent; COCOeval's -1 (no objects of that size) is reported as missing.
    expected = [round(100 * round(v, 3), 1) if v >= 0 else None for v in coco_eval.stats[:6]]
    assert [row[c] for c in ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl')] == expected
    # Per-class AP, as COCOeval's precision averaged over IoUs and recalls for that class.
    precision = coco_eval.eval['precision'][:, :, 0, 0, -1]
    circle = float(np.mean(precision[precision > -1]))
    assert report['classes'][0] == {'type': 'bbox', 'class': 'circle',
                                    'AP': round(100 * round(circle, 3), 1)}


def test_report_side_by_side_with_paper(trained, tmp_path):
    work_dir, _ = trained
    result = run_tool('tools/analysis_tools/report.py', osp.join(work_dir, 'test_metrics.json'),
                      '--published', 'retinanet_lsnet_t', '--out-dir', str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert '| paper (retinanet_lsnet_t) | bbox | 34.2 | 54.6 | 35.2 | 17.8 | 37.1 | 48.5 |' \
        in result.stdout


def test_missing_coco_is_explained_before_building(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    error = refusal_of('train', osp.join(ROOT, 'configs', 'retinanet_lsnet_t_coco.py'),
                       monkeypatch=monkeypatch)
    assert 'data/coco/annotations/instances_train2017.json' in error
    assert 'data/coco/train2017/*.jpg' in error  # the expected layout


def test_missing_pretrained_file_is_named(tmp_path, monkeypatch):
    for folder in ('annotations', 'train2017', 'val2017'):
        os.makedirs(tmp_path / 'data' / 'coco' / folder)
    # COCO's categories and no images: what the pre-flight checks of the data read.
    coco = dict(images=[], annotations=[], categories=[
        dict(id=index + 1, name=name) for index, name in enumerate(CocoDataset.METAINFO['classes'])])
    for split in ('train', 'val'):
        (tmp_path / 'data/coco/annotations' / f'instances_{split}2017.json').write_text(
            json.dumps(coco))
    monkeypatch.chdir(tmp_path)
    local = 'model.backbone.init_cfg.checkpoint=pretrained/lsnet_s.pth'
    error = refusal_of('train', osp.join(ROOT, 'configs', 'mask_rcnn_lsnet_s_coco.py'),
                       '--cfg-options', local, monkeypatch=monkeypatch)
    assert 'Pretrained backbone file not found: pretrained/lsnet_s.pth' in error
    assert 'model.backbone.init_cfg=None' in error


def test_config_of_another_task_is_refused(tmp_path, monkeypatch):
    config = tmp_path / 'cls.py'
    config.write_text("default_scope = 'mmpretrain'\nmodel = dict(type='ImageClassifier')\n")
    error = refusal_of('train', config, monkeypatch=monkeypatch)
    assert "default_scope is 'mmpretrain'" in error


def test_report_refuses_segmentation_metrics(tmp_path):
    path = tmp_path / 'test_metrics.json'
    path.write_text(json.dumps({'config': 'x', 'metrics': {'mIoU': 40.0}}))
    result = run_tool('tools/analysis_tools/report.py', str(path))
    assert result.returncode != 0 and 'No COCO AP' in result.stderr


def test_backbone_swap_example_trains(tiny_coco, tmp_path):
    """The README recipe: a stock mmdet config with LSNet swapped in trains through tools/."""
    config = tmp_path / 'swap_on_demo_data.py'
    example = osp.join(ROOT, 'configs', 'examples', 'retinanet_r50_to_lsnet_t_coco.py')
    config.write_text(f'''
_base_ = {example!r}
model = dict(backbone=dict(init_cfg=None), bbox_head=dict(num_classes=3))
pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True),
            dict(type='Resize', scale=(128, 128), keep_ratio=True), dict(type='PackDetInputs')]
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False, dataset=dict(
    data_root={tiny_coco + '/'!r}, ann_file='annotations/instances_train.json',
    data_prefix=dict(img='train/'), metainfo=dict(classes=('circle', 'square', 'triangle')),
    pipeline=pipeline))
train_cfg = dict(max_epochs=1, val_interval=10)
val_cfg = None
val_dataloader = None
val_evaluator = None
''')
    result = run_tool('tools/train.py', str(config), '--work-dir', str(tmp_path / 'work'))
    assert result.returncode == 0, result.stderr[-3000:]
    assert osp.isfile(tmp_path / 'work' / 'epoch_1.pth')
