"""Rows of image | ground truth | prediction for COCO-format detections, boxes and masks.

The picture a person reads to judge a detector: the same val image three times, enlarged, with
the annotated objects and the predicted ones in their class colours (a legend below names
them), each prediction labelled with its score. Score labels are placed so that none covers
another.
"""
import math
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from .captions import FONT, legend_strip, title_strip

FONT_SCALE = 0.45  # of the score labels
MASK_ALPHA = 0.45

Box = Tuple[int, int, int, int]  # x1, y1, x2, y2 in panel pixels


def _overlap(a: Box, b: Box) -> int:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return max(width, 0) * max(height, 0)


def place_labels(boxes: Sequence[Box], sizes: Sequence[Tuple[int, int]],
                 panel: Tuple[int, int]) -> List[Box]:
    """Where to draw each box's label so that the labels do not cover each other.

    Tries, in order, above the box's top-left corner, inside it, below it, and the same at the
    right edge, keeping the first spot inside the panel that no earlier label overlaps (the
    least covered spot when every one is taken). Earlier boxes are served first.

    Args:
        boxes: (x1, y1, x2, y2) of each object, in panel pixels.
        sizes: (width, height) of each label.
        panel: (width, height) of the panel.

    Returns:
        The (x1, y1, x2, y2) of each label.
    """
    placed: List[Box] = []
    for (x1, y1, x2, y2), (width, height) in zip(boxes, sizes):
        candidates = []
        for x in (x1, x2 - width):
            for y in (y1 - height, y1, y2, y2 - height):
                x = min(max(x, 0), panel[0] - width)
                y = min(max(y, 0), panel[1] - height)
                candidates.append((x, y, x + width, y + height))
        costs = [sum(_overlap(c, p) for p in placed) for c in candidates]
        placed.append(candidates[int(np.argmin(costs))])  # the first of the free ones
    return placed


def _text_size(text: str) -> Tuple[int, int]:
    (width, height), baseline = cv2.getTextSize(text, FONT, FONT_SCALE, 1)
    return width + 4, height + baseline + 4


def draw_objects(image: np.ndarray, scale: int, bboxes: np.ndarray, labels: np.ndarray,
                 colours: Sequence[Tuple[int, int, int]], masks: Optional[List[np.ndarray]] = None,
                 scores: Optional[np.ndarray] = None) -> np.ndarray:
    """One panel: ``image`` enlarged ``scale`` times with the objects drawn in class colours.

    Args:
        image: (H, W, 3) BGR uint8.
        scale: integer enlargement of the panel.
        bboxes: (N, 4) x1, y1, x2, y2 in image pixels.
        labels: (N,) class indices into ``colours`` (BGR).
        masks: N binary (H, W) masks, or None.
        scores: (N,) scores written beside the boxes, or None (ground truth).

    Returns:
        (H * scale, W * scale, 3) BGR uint8.
    """
    panel = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    if masks is not None:
        for mask, label in zip(masks, labels):
            big = cv2.resize(mask.astype(np.uint8), None, fx=scale, fy=scale,
                             interpolation=cv2.INTER_NEAREST).astype(bool)
            panel[big] = ((1 - MASK_ALPHA) * panel[big]
                          + MASK_ALPHA * np.array(colours[label])).astype(np.uint8)
            # A white outline: the fill alone vanishes on a shape of the class's own hue.
            contours, _ = cv2.findContours(big.astype(np.uint8), cv2.RETR_EXTERNAL,
                                           cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(panel, contours, -1, (255, 255, 255), 1)
    boxes = [tuple(int(round(v * scale)) for v in box) for box in bboxes]
    for box, label in zip(boxes, labels):
        cv2.rectangle(panel, box[:2], box[2:], colours[label], 2)
    if scores is not None:
        texts = [f'{score:.2f}' for score in scores]
        spots = place_labels(boxes, [_text_size(t) for t in texts], panel.shape[1::-1])
        for (x1, y1, x2, y2), text, label in zip(spots, texts, labels):
            cv2.rectangle(panel, (x1, y1), (x2, y2), colours[label], -1)
            cv2.putText(panel, text, (x1 + 2, y2 - 4), FONT, FONT_SCALE, (255, 255, 255), 1,
                        cv2.LINE_AA)
    return panel


def _ground_truth(coco: COCO, image_id: int):
    annotations = coco.loadAnns(coco.getAnnIds(imgIds=[image_id], iscrowd=None))
    category_index = {c: i for i, c in enumerate(sorted(coco.getCatIds()))}
    bboxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (a['bbox'] for a in annotations)],
                      np.float32).reshape(-1, 4)
    labels = np.array([category_index[a['category_id']] for a in annotations], np.int64)
    masks = [coco.annToMask(a) for a in annotations]
    return bboxes, labels, masks


def draw_detection_comparison(predictions: Sequence[dict], ann_file: str, classes: Sequence[str],
                              palette: Sequence[Tuple[int, int, int]], out_file: str,
                              score_thr: float = 0.3, num_images: int = 4,
                              min_panel_size: int = 256) -> str:
    """Write rows of image | ground truth | prediction for the first ``num_images`` images.

    Args:
        predictions: per image, a dict as mmdet's ``DumpDetResults`` pickles it: ``img_path``,
            ``img_id`` and ``pred_instances`` (``bboxes`` (N, 4), ``scores`` (N,), ``labels``
            (N,), and ``masks`` as RLE when the model predicts masks).
        ann_file: the COCO annotation file of those images.
        classes: class names, in label order.
        palette: RGB colour of each class.
        out_file: the PNG to write.
        score_thr: predictions scoring less are not drawn.
        num_images: rows of the picture.
        min_panel_size: panels are enlarged by an integer factor to at least this size.

    Returns:
        ``out_file``.
    """
    if not predictions:
        raise ValueError('no predictions to draw')
    coco = COCO(ann_file) if isinstance(ann_file, str) else ann_file
    colours = [tuple(int(c) for c in rgb[::-1]) for rgb in palette]
    rows = []
    for prediction in predictions[:num_images]:
        image = cv2.imread(prediction['img_path'])
        if image is None:
            raise FileNotFoundError(f'cannot read the image {prediction["img_path"]}')
        scale = max(1, math.ceil(min_panel_size / min(image.shape[:2])))
        pred = prediction['pred_instances']
        keep = np.asarray(pred['scores']) >= score_thr
        order = np.argsort(-np.asarray(pred['scores'])[keep], kind='stable')
        pred_masks = None
        if 'masks' in pred:
            pred_masks = [mask_utils.decode(m).astype(bool) for m, k in zip(pred['masks'], keep)
                          if k]
            pred_masks = [pred_masks[i] for i in order]
        gt_bboxes, gt_labels, gt_masks = _ground_truth(coco, prediction['img_id'])
        rows.append(np.hstack([
            draw_objects(image, scale, np.zeros((0, 4)), np.zeros(0, np.int64), colours),
            draw_objects(image, scale, gt_bboxes, gt_labels, colours,
                         gt_masks if pred_masks is not None else None),
            draw_objects(image, scale, np.asarray(pred['bboxes'])[keep][order],
                         np.asarray(pred['labels'])[keep][order], colours, pred_masks,
                         np.asarray(pred['scores'])[keep][order]),
        ]))
    width = max(row.shape[1] for row in rows)
    rows = [np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0)), constant_values=255)
            for row in rows]
    titles = title_strip(width, ('image', 'ground truth', f'prediction (score >= {score_thr:g})'))
    picture = np.vstack([titles, *rows, legend_strip(width, classes, colours)])
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    if not cv2.imwrite(out_file, picture):
        raise OSError(f'cannot write {out_file}')
    return out_file
