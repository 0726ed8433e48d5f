"""A small, deterministic COCO-format dataset of coloured shapes, for demos and tests.

Each image holds 2-7 objects of three classes (circle, square, triangle) on a noisy gradient
background. Objects may overlap: later ones occlude earlier ones, and every annotation describes
the *visible* part (box and RLE mask). Some objects are small (COCO's area < 32**2).
"""
import json
import os
import os.path as osp
from typing import Dict, List

import cv2
import numpy as np
from pycocotools import mask as mask_utils

CLASSES = ('circle', 'square', 'triangle')
# Each class has its own hue range, so a detector trained from scratch learns in minutes.
HUES = {'circle': (0, 12), 'square': (55, 75), 'triangle': (105, 125)}  # OpenCV hue, 0-179
MIN_VISIBLE_FRACTION = 0.5
# Written into each annotation file; raised whenever the same arguments give other data.
VERSION = '2.0'


def _shape_mask(cls: str, size: int, height: int, width: int, rng: np.random.Generator):
    """A binary mask of one shape of ``size`` pixels across, at a random position."""
    mask = np.zeros((height, width), np.uint8)
    cx = int(rng.integers(size // 2, width - size // 2))
    cy = int(rng.integers(size // 2, height - size // 2))
    half = size // 2
    if cls == 'circle':
        cv2.circle(mask, (cx, cy), half, 1, -1)
    elif cls == 'square':
        cv2.rectangle(mask, (cx - half, cy - half), (cx + half, cy + half), 1, -1)
    else:
        points = np.array([[cx, cy - half], [cx - half, cy + half], [cx + half, cy + half]])
        cv2.fillPoly(mask, [points.astype(np.int32)], 1)
    return mask


def _background(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    start, end = rng.integers(60, 200, 3), rng.integers(60, 200, 3)
    ramp = np.linspace(0, 1, width)[None, :, None]
    image = start + (end - start) * ramp + rng.normal(0, 8, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def _colour(cls: str, rng: np.random.Generator) -> tuple:
    hue = rng.integers(*HUES[cls])
    hsv = np.uint8([[[hue, rng.integers(170, 256), rng.integers(150, 256)]]])
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])


def make_image(rng: np.random.Generator, height: int, width: int):
    """One image (BGR uint8) and its visible objects as (class index, binary mask) pairs."""
    image = _background(height, width, rng)
    placed: List[Dict] = []
    for _ in range(int(rng.integers(2, 8))):
        cls = int(rng.integers(len(CLASSES)))
        small = rng.random() < 0.25
        size = int(rng.integers(10, 20) if small else rng.integers(24, min(height, width) // 2))
        mask = _shape_mask(CLASSES[cls], size, height, width, rng)
        image[mask.astype(bool)] = _colour(CLASSES[cls], rng)
        for obj in placed:  # the new shape hides what it covers
            obj['visible'] &= ~mask.astype(bool)
        placed.append(dict(label=cls, visible=mask.astype(bool), area=int(mask.sum())))
    objects = [(o['label'], o['visible']) for o in placed
               if o['visible'].sum() >= MIN_VISIBLE_FRACTION * o['area']]
    return image, objects


def generate_demo_coco(root: str, num_train: int = 3200, num_val: int = 200, height: int = 128,
                       width: int = 128, seed: int = 0) -> Dict[str, str]:
    """Write ``root/{train,val}/*.jpg`` and ``root/annotations/instances_{train,val}.json``.

    The same arguments always give the same files, and each split has its own random stream:
    the val images do not change with ``num_train``. Returns the annotation file of each split.
    """
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    written = {}
    for split_index, (split, count) in enumerate((('train', num_train), ('val', num_val))):
        rng = np.random.default_rng([seed, split_index])
        os.makedirs(osp.join(root, split), exist_ok=True)
        images, annotations = [], []
        for image_id in range(1, count + 1):
            image, objects = make_image(rng, height, width)
            file_name = f'{image_id:06d}.jpg'
            cv2.imwrite(osp.join(root, split, file_name), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
            images.append(dict(id=image_id, file_name=file_name, height=height, width=width))
            for label, visible in objects:
                rle = mask_utils.encode(np.asfortranarray(visible.astype(np.uint8)))
                x, y, w, h = (float(v) for v in mask_utils.toBbox(rle))
                area = float(mask_utils.area(rle))
                rle['counts'] = rle['counts'].decode('ascii')
                annotations.append(dict(
                    id=len(annotations) + 1, image_id=image_id, category_id=label + 1,
                    bbox=[x, y, w, h], area=area, segmentation=rle,
                    iscrowd=0))
        coco = dict(info=dict(description=f'lsnet_dense demo shapes, {split} split',
                              version=VERSION),
                    licenses=[], images=images, annotations=annotations,
                    categories=[dict(id=i + 1, name=n) for i, n in enumerate(CLASSES)])
        path = osp.join(root, 'annotations', f'instances_{split}.json')
        with open(path, 'w') as f:
            json.dump(coco, f)
        written[split] = path
    return written
