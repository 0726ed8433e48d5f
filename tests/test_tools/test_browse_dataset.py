"""tools/misc/browse_dataset.py draws the ground truth after the train pipeline: one picture per
sample, of the pipeline's output size, with the objects or classes painted over the image."""
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

from lsnet_dense.datasets import generate_demo_coco
from lsnet_dense.datasets.demo_ade20k import generate_demo_ade20k
from helpers import ROOT

TOOL = 'tools/misc/browse_dataset.py'
MASK_RCNN_DEMO = osp.join(ROOT, 'configs', 'demo', 'mask_rcnn_lsnet_t_demo.py')
SEMFPN_DEMO = osp.join(ROOT, 'configs', 'demo', 'semfpn_lsnet_t_demo_ade20k.py')


def browse(config, out_dir, *options):
    result = subprocess.run([sys.executable, TOOL, config, '--output-dir', str(out_dir),
                             *options], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def pictures(out_dir):
    return [cv2.imread(osp.join(out_dir, name)) for name in sorted(os.listdir(out_dir))]


@pytest.fixture(scope='module')
def demo_coco(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('coco'))
    generate_demo_coco(root, num_train=3, num_val=1, height=64, width=96, seed=2)
    return root


def test_detection_ground_truth_is_drawn_after_the_pipeline(demo_coco, tmp_path):
    output = browse(MASK_RCNN_DEMO, tmp_path / 'vis', '--cfg-options',
                    f'train_dataloader.dataset.data_root={demo_coco}/')
    assert '3 samples of the train split drawn' in output
    drawn = pictures(tmp_path / 'vis')
    assert len(drawn) == 3
    # The demo's pipeline resizes 96x64 images to fit 128x128: 128x85.
    assert all(picture.shape[:2] == (85, 128) for picture in drawn)
    original = cv2.resize(cv2.imread(osp.join(demo_coco, 'train', '000001.jpg')), (128, 85))
    # Flipped or not, boxes and masks change many pixels of the image.
    differs = min(np.mean(np.abs(drawn[0].astype(int) - image.astype(int)).sum(2) > 60)
                  for image in (original, original[:, ::-1]))
    assert differs > 0.05


def test_segmentation_ground_truth_is_drawn_and_max_images_is_kept(tmp_path):
    generate_demo_ade20k(str(tmp_path / 'data'), num_train=3, num_val=1)
    output = browse(SEMFPN_DEMO, tmp_path / 'vis', '--max-images', '2', '--cfg-options',
                    f'train_dataloader.dataset.data_root={tmp_path / "data"}')
    assert '2 samples of the train split drawn' in output
    assert len(pictures(tmp_path / 'vis')) == 2


def test_missing_data_is_named_before_anything_is_built(tmp_path):
    result = subprocess.run([sys.executable, TOOL, SEMFPN_DEMO, '--output-dir', str(tmp_path),
                             '--cfg-options', f'train_dataloader.dataset.data_root={tmp_path}/x'],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 1
    assert 'error: train data not found' in result.stderr and 'Traceback' not in result.stderr
