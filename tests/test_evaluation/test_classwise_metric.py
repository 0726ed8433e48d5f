"""ClasswiseCocoMetric with ['bbox', 'segm'] (the Mask R-CNN configs') keeps box and mask
per-class AP apart; mmdet's CocoMetric writes both under one key, the mask value winning."""
import os.path as osp

import numpy as np
import torch
from mmengine.config import Config
from pycocotools.coco import COCO

from lsnet_dense.datasets import generate_demo_coco
from lsnet_dense.evaluation import ClasswiseCocoMetric
from helpers import ROOT

CLASSES = ('circle', 'square', 'triangle')


def predictions(coco):
    """Every ground-truth box exactly, with its mask for circles and an empty one otherwise."""
    samples = []
    for image in coco.loadImgs(coco.getImgIds()):
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=image['id']))
        boxes = [[x, y, x + w, y + h] for x, y, w, h in (a['bbox'] for a in annotations)]
        labels = [a['category_id'] - 1 for a in annotations]
        masks = [coco.annToMask(a) if label == 0 else np.zeros((image['height'], image['width']))
                 for a, label in zip(annotations, labels)]
        samples.append(dict(
            img_id=image['id'], ori_shape=(image['height'], image['width']),
            pred_instances=dict(bboxes=torch.tensor(boxes), scores=torch.ones(len(boxes)),
                                labels=torch.tensor(labels),
                                masks=torch.from_numpy(np.array(masks)).bool())))
    return samples


def test_box_and_mask_per_class_ap_stay_apart(tmp_path):
    annotations = generate_demo_coco(str(tmp_path), num_train=0, num_val=6, height=64, width=64,
                                     seed=8)['val']
    coco = COCO(annotations)
    assert {a['category_id'] for a in coco.loadAnns(coco.getAnnIds())} == {1, 2, 3}
    metric = ClasswiseCocoMetric(ann_file=annotations, metric=['bbox', 'segm'])
    metric.dataset_meta = dict(classes=CLASSES)
    samples = predictions(coco)
    metric.process({}, samples)
    results = metric.evaluate(len(samples))
    assert [results[f'coco/bbox_{name}_AP'] for name in CLASSES] == [1.0, 1.0, 1.0]
    assert [results[f'coco/segm_{name}_AP'] for name in CLASSES] == [1.0, 0.0, 0.0]
    assert results['coco/bbox_mAP'] == 1.0 and results['coco/segm_mAP'] == 0.333


def test_mask_rcnn_configs_evaluate_boxes_and_masks_apart():
    for arch in 'tsb':
        cfg = Config.fromfile(osp.join(ROOT, 'configs', f'mask_rcnn_lsnet_{arch}_coco.py'))
        for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
            assert evaluator.type == 'ClasswiseCocoMetric'
            assert list(evaluator.metric) == ['bbox', 'segm']
