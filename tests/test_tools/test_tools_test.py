"""tools/test.py --deploy evaluates the folded model to the same results; --show-dir draws."""
import glob
import json
import os
import os.path as osp
import pickle
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from lsnet_dense.apis import build_model_from_config
from lsnet_dense.datasets import generate_demo_coco
from helpers import ROOT

DEMO_CONFIG = osp.join(ROOT, 'configs', 'demo', 'retinanet_lsnet_t_demo.py')


@pytest.fixture(scope='module')
def tiny_coco(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('coco'))
    generate_demo_coco(root, num_train=1, num_val=2, height=96, width=96, seed=7)
    return root


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """The demo detector with random weights and BatchNorm statistics, so that folding
    BatchNorm into the convolutions changes every weight."""
    model = build_model_from_config(DEMO_CONFIG)[0]
    gen = torch.Generator().manual_seed(0)
    state = model.state_dict()
    for key, value in state.items():
        if key.startswith('backbone.') and key.endswith(('running_mean', '.bias')):
            value.copy_(torch.randn(value.shape, generator=gen) * 0.1)
        elif key.startswith('backbone.') and key.endswith(('running_var', 'bn.weight')):
            value.copy_(torch.rand(value.shape, generator=gen) * 0.5 + 0.5)
    path = str(tmp_path_factory.mktemp('ckpt') / 'demo.pth')
    torch.save({'state_dict': state, 'meta': {}}, path)
    return path


def run_test_tool(root, checkpoint, work_dir, *flags):
    """tools/test.py on the tiny val set; returns its metrics and raw detections."""
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    raw = osp.join(work_dir, 'raw.pkl')
    result = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'test.py'), DEMO_CONFIG, checkpoint,
         '--work-dir', work_dir, '--out', raw, *flags, '--cfg-options',
         f'test_dataloader.dataset.data_root={root}/', 'test_dataloader.num_workers=0',
         'test_dataloader.persistent_workers=False',
         f'test_evaluator.ann_file={root}/annotations/instances_val.json',
         'model.test_cfg.score_thr=0.0'],
        cwd=ROOT, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(osp.join(work_dir, 'test_metrics.json')) as f:
        metrics = json.load(f)['metrics']
    with open(raw, 'rb') as f:
        return metrics, pickle.load(f)


def test_deploy_gives_the_same_results_and_show_dir_draws(tiny_coco, checkpoint, tmp_path):
    metrics, detections = run_test_tool(tiny_coco, checkpoint, str(tmp_path / 'plain'))
    folded_metrics, folded = run_test_tool(tiny_coco, checkpoint, str(tmp_path / 'deploy'),
                                           '--deploy', '--show-dir', 'drawings')
    assert metrics == folded_metrics and 'coco/bbox_mAP' in metrics
    assert [d['img_id'] for d in detections] == [d['img_id'] for d in folded]
    for plain, deployed in zip(detections, folded):
        # Rankings can swap among near-equal scores: compare the sorted scores.
        scores = [np.sort(d['pred_instances']['scores'].numpy()) for d in (plain, deployed)]
        assert len(scores[0]) == 100
        np.testing.assert_allclose(*scores, rtol=0, atol=1e-5)

    # Detection drawings go to WORK_DIR/TIMESTAMP/SHOW_DIR, one per val image: ground truth
    # and prediction side by side.
    drawings = sorted(glob.glob(str(tmp_path / 'deploy' / '*' / 'drawings' / '*.jpg')))
    assert [osp.basename(p) for p in drawings] == ['000001.jpg', '000002.jpg']
    assert all(cv2.imread(p).shape == (96, 2 * 96, 3) for p in drawings)
