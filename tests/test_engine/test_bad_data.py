"""Defective COCO data: each case is either handled correctly or named in a clear error."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmdet.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

from lsnet_dense.datasets import generate_demo_coco
from helpers import ROOT

DEMO_CONFIG = osp.join(ROOT, 'configs', 'demo', 'retinanet_lsnet_t_demo.py')


def add_image(coco, root, name, image, boxes):
    """Write ``image`` as train/``name`` and register it with ``boxes`` (x, y, w, h)."""
    cv2.imwrite(osp.join(root, 'train', name), image)
    image_id = max(i['id'] for i in coco['images']) + 1
    coco['images'].append(dict(id=image_id, file_name=name, height=image.shape[0],
                               width=image.shape[1]))
    for box in boxes:
        coco['annotations'].append(dict(
            id=max(a['id'] for a in coco['annotations']) + 1, image_id=image_id, category_id=1,
            bbox=list(box), area=float(box[2] * box[3]), iscrowd=0))
    return image_id


@pytest.fixture(scope='module')
def defective_coco(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('bad_coco'))
    generate_demo_coco(root, num_train=2, num_val=1, height=96, width=96)
    ann_file = osp.join(root, 'annotations', 'instances_train.json')
    with open(ann_file) as f:
        coco = json.load(f)
    rng = np.random.default_rng(0)
    colour = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    ids = {
        'gray': add_image(coco, root, 'gray.jpg', colour[..., 0], [(8, 8, 20, 20)]),
        'rgba': add_image(coco, root, 'rgba.png', np.dstack([colour, colour[..., :1]]),
                          [(8, 8, 20, 20)]),
        'tiny': add_image(coco, root, 'tiny.png', colour[:20, :24], [(2, 2, 10, 10)]),
        'wide': add_image(coco, root, 'wide.jpg', np.tile(colour[:16], (1, 12, 1)),
                          [(100, 2, 30, 10)]),
        'outside': add_image(coco, root, 'outside.jpg', colour,
                             [(100, 100, 10, 10), (50, 50, 30, 30), (10, 10, 20, 20)]),
        'empty': add_image(coco, root, 'empty.jpg', colour, []),
    }
    with open(ann_file, 'w') as f:
        json.dump(coco, f)
    return root, ids


def build_train_set(root, filter_empty=True):
    cfg = Config.fromfile(DEMO_CONFIG)
    dataset = cfg.train_dataloader.dataset
    dataset.data_root = root + '/'
    dataset.filter_cfg.filter_empty_gt = filter_empty
    with DefaultScope.overwrite_default_scope('mmdet'):
        return DATASETS.build(dataset), cfg


def samples_by_name(dataset):
    return {osp.basename(dataset.get_data_info(i)['img_path']): dataset[i]
            for i in range(len(dataset))}


def test_odd_images_and_boxes_are_handled(defective_coco):
    root, _ = defective_coco
    samples = samples_by_name(build_train_set(root)[0])
    for name in ('gray.jpg', 'rgba.png'):  # decoded as 3-channel colour
        assert samples[name]['inputs'].shape[0] == 3
    outside = samples['outside.jpg']
    boxes = outside['data_samples'].gt_instances.bboxes.tensor
    # The box entirely outside the image is dropped, the one crossing its border kept.
    assert boxes.shape[0] == 2 and (boxes[:, 0] < outside['inputs'].shape[-1]).all()
    assert 'empty.jpg' not in samples  # no objects: filtered from training (filter_empty_gt)


def test_tiny_and_extreme_aspect_images_train_and_predict(defective_coco):
    root, _ = defective_coco
    dataset, cfg = build_train_set(root)
    samples = samples_by_name(dataset)
    cfg.model.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
    batch = pseudo_collate([samples['tiny.png'], samples['wide.jpg']])
    # The demo config resizes images to fit 128x128: 'wide' (16x768) becomes a few pixels tall,
    # far below the backbone's largest stride of 64.
    assert min(samples['wide.jpg']['inputs'].shape[1:]) < 64
    losses = model(**model.data_preprocessor(batch, True), mode='loss')
    assert all(torch.isfinite(sum(v) if isinstance(v, list) else v).all()
               for v in losses.values())
    model.eval()
    with torch.no_grad():
        results = model(**model.data_preprocessor(batch, False), mode='predict')
    assert len(results) == 2


def test_missing_image_is_named(defective_coco, tmp_path):
    root, _ = defective_coco
    dataset, _ = build_train_set(root, filter_empty=False)
    index = next(i for i in range(len(dataset))
                 if dataset.get_data_info(i)['img_path'].endswith('empty.jpg'))
    path = dataset.get_data_info(index)['img_path']
    moved = str(tmp_path / 'empty.jpg')
    import shutil
    shutil.move(path, moved)
    try:
        with pytest.raises(FileNotFoundError, match='empty.jpg'):
            dataset[index]
    finally:
        shutil.move(moved, path)


def test_corrupt_image_is_named(defective_coco):
    root, _ = defective_coco
    path = osp.join(root, 'train', 'corrupt.jpg')
    with open(path, 'wb') as f:
        f.write(b'\xff\xd8 this is not a jpeg')
    dataset, _ = build_train_set(root, filter_empty=False)
    info = dataset.get_data_info(0)
    info['img_path'] = path
    with pytest.raises(Exception, match='failed to load image: .*corrupt.jpg'):
        dataset.pipeline(dict(info))
