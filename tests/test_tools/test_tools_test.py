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
from tolerances import DEPLOY_FOLDING_ATOL, DEPLOY_FOLDING_BOX_ATOL_PX

DEMO_CONFIG = osp.join(ROOT, 'configs', 'demo', 'retinanet_lsnet_t_demo.py')
# The best detections of each image, all of them kept (score_thr 0): few enough that
# consecutive scores stay well apart (see the gap checked below).
DETECTIONS_PER_IMAGE = 20


@pytest.fixture(scope='module')
def tiny_coco(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('coco'))
    generate_demo_coco(root, num_train=1, num_val=2, height=96, width=96, seed=7)
    return root


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """The demo detector with random weights and BatchNorm statistics, so that folding
    BatchNorm into the convolutions changes every weight.

    The head's last layers are randomised widely: classification weights large enough, with a
    bias low enough, that the best scores spread over 0.2-0.75, of all three classes, and follow
    the features (at PyTorch's default initialisation consecutive ones are as close as 2e-6,
    nearer than the tolerance), and regression weights that move the boxes off the anchors. A
    folding error then changes scores, labels and boxes.

    The other weights are PyTorch's initialisation, seeded (without touching the global random
    stream of the other tests) so that every run tests the same detections.
    """
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = build_model_from_config(DEMO_CONFIG)[0]
    gen = torch.Generator().manual_seed(0)
    state = model.state_dict()
    for key, value in state.items():
        if key.startswith('backbone.') and key.endswith(('running_mean', '.bias')):
            value.copy_(torch.randn(value.shape, generator=gen) * 0.1)
        elif key.startswith('backbone.') and key.endswith(('running_var', 'bn.weight')):
            value.copy_(torch.rand(value.shape, generator=gen) * 0.5 + 0.5)
    head = 'bbox_head.retina_'
    state[f'{head}cls.weight'].copy_(torch.randn(state[f'{head}cls.weight'].shape,
                                                 generator=gen) * 0.15)
    state[f'{head}cls.bias'].fill_(-9.0)
    state[f'{head}reg.weight'].copy_(torch.randn(state[f'{head}reg.weight'].shape,
                                                 generator=gen) * 0.05)
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
         'model.test_cfg.score_thr=0.0', f'model.test_cfg.max_per_img={DETECTIONS_PER_IMAGE}'],
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
        plain, deployed = plain['pred_instances'], deployed['pred_instances']
        assert len(plain['scores']) == len(deployed['scores']) == DETECTIONS_PER_IMAGE
        # Both lists come sorted by score. Where consecutive scores are more than twice the
        # tolerance apart, scores that each moved by at most the tolerance keep their order,
        # so the i-th detections of the two are the same detection.
        gaps = -np.diff(plain['scores'].numpy())
        assert gaps.min() > 2 * DEPLOY_FOLDING_ATOL, gaps.min()
        assert len(plain['labels'].unique()) > 1  # so that a wrong label can show
        assert torch.equal(plain['labels'], deployed['labels'])
        np.testing.assert_allclose(deployed['scores'], plain['scores'], rtol=0,
                                   atol=DEPLOY_FOLDING_ATOL)
        np.testing.assert_allclose(deployed['bboxes'], plain['bboxes'], rtol=0,
                                   atol=DEPLOY_FOLDING_BOX_ATOL_PX)

    # Detection drawings go to WORK_DIR/TIMESTAMP/SHOW_DIR, one per val image: ground truth
    # and prediction side by side.
    drawings = sorted(glob.glob(str(tmp_path / 'deploy' / '*' / 'drawings' / '*.jpg')))
    assert [osp.basename(p) for p in drawings] == ['000001.jpg', '000002.jpg']
    assert all(cv2.imread(p).shape == (96, 2 * 96, 3) for p in drawings)
