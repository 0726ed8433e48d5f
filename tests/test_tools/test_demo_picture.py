"""The demo's picture: image | ground truth | prediction rows (tools/demo.py end to end is
tests/test_tools/test_demo_tool.py's)."""
import os.path as osp

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from lsnet_dense.datasets import generate_demo_coco
from lsnet_dense.visualization import draw_detection_comparison, place_labels
from lsnet_dense.visualization.captions import STRIP_HEIGHT

CLASSES = ('circle', 'square', 'triangle')
PALETTE = [(220, 20, 60), (0, 160, 0), (30, 60, 220)]


@pytest.fixture(scope='module')
def tiny_coco(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('coco'))
    generate_demo_coco(root, num_train=16, num_val=4, seed=2)
    return root


def ground_truth_as_predictions(root, with_masks):
    """DumpDetResults-style records that predict each val image's annotations exactly."""
    coco = COCO(osp.join(root, 'annotations', 'instances_val.json'))
    records = []
    for image in coco.loadImgs(coco.getImgIds()):
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image['id']]))
        pred = dict(bboxes=np.array([[x, y, x + w, y + h] for x, y, w, h in
                                     (a['bbox'] for a in anns)], np.float32),
                    scores=np.linspace(0.9, 0.5, len(anns)),
                    labels=np.array([a['category_id'] - 1 for a in anns]))
        if with_masks:
            pred['masks'] = [coco.annToRLE(a) for a in anns]
        records.append(dict(img_id=image['id'], pred_instances=pred,
                            img_path=osp.join(root, 'val', image['file_name'])))
    return records


def overlap(a, b):
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


def test_labels_of_stacked_boxes_do_not_cover_each_other():
    boxes = [(100, 100, 140, 140)] * 3 + [(102, 101, 141, 139)]
    spots = place_labels(boxes, [(36, 18)] * 4, (256, 256))
    assert all(overlap(a, b) == 0 for i, a in enumerate(spots) for b in spots[i + 1:])
    assert all(0 <= x1 and 0 <= y1 and x2 <= 256 and y2 <= 256 for x1, y1, x2, y2 in spots)


@pytest.mark.parametrize('with_masks', [False, True])
def test_picture_rows_of_image_truth_prediction(tiny_coco, tmp_path, with_masks):
    out = str(tmp_path / 'picture.png')
    records = ground_truth_as_predictions(tiny_coco, with_masks)
    draw_detection_comparison(records, osp.join(tiny_coco, 'annotations', 'instances_val.json'),
                              CLASSES, PALETTE, out, num_images=3)
    picture = cv2.imread(out)
    panel = 256  # 128 px images, enlarged twice to reach at least 256 px
    assert picture.shape == (2 * STRIP_HEIGHT + 3 * panel, 3 * panel, 3)
    rows = picture[STRIP_HEIGHT:-STRIP_HEIGHT]
    image, truth, prediction = (rows[:, i * panel:(i + 1) * panel].astype(int) for i in range(3))
    # The first panel is the plain image; objects are drawn on the other two.
    source = cv2.imread(records[0]['img_path'])
    assert np.array_equal(image[:panel], cv2.resize(source, None, fx=2, fy=2,
                                                    interpolation=cv2.INTER_NEAREST))
    assert np.abs(truth - image).sum() > 0 and np.abs(prediction - truth).sum() > 0
    # Masks are drawn on both sides only when predicted: inside a square's box, away from its
    # edge, the ground-truth panel keeps the image's pixels without masks.
    coco = COCO(osp.join(tiny_coco, 'annotations', 'instances_val.json'))
    ann = max(coco.loadAnns(coco.getAnnIds(imgIds=[records[0]['img_id']])), key=lambda a: a['area'])
    x, y, w, h = (int(v * 2) for v in ann['bbox'])
    inside = (slice(y + 8, y + h - 8), slice(x + 8, x + w - 8))
    changed = np.abs(truth[:panel][inside] - image[:panel][inside]).sum()
    assert (changed > 0) == with_masks


def test_picture_refuses_an_empty_prediction_list(tiny_coco, tmp_path):
    with pytest.raises(ValueError, match='no predictions'):
        draw_detection_comparison([], osp.join(tiny_coco, 'annotations', 'instances_val.json'),
                                  CLASSES, PALETTE, str(tmp_path / 'x.png'))
