"""A small, deterministic dataset in the ADE20K layout, for the segmentation demo and tests.

Each image is an outdoor-like scene: textured "stuff" (sky above a wavy horizon, water, sand and
grass below it) with a few "things" on top (shaded balls, boxes with a dark rim), and sometimes
an unlabelled grey shape. Label maps follow ADE20K: 0 is "other" (ignored, as with
``reduce_zero_label``), class ``i`` of :data:`CLASSES` is stored as ``i + 1``. The files are

    root/images/{training,validation}/NNNNNN.jpg
    root/annotations/{training,validation}/NNNNNN.png

so mmseg's ADE20K pipeline reads them unchanged; :class:`DemoADE20KDataset` only swaps the 150
ADE20K classes for these six.
"""
import os
import os.path as osp
from typing import Dict, Tuple

import cv2
import numpy as np
from mmseg.datasets import ADE20KDataset
from mmseg.registry import DATASETS

CLASSES = ('sky', 'water', 'sand', 'grass', 'ball', 'box')
PALETTE = [[70, 130, 180], [0, 90, 200], [230, 200, 120], [60, 170, 60], [220, 40, 40],
           [150, 80, 170]]  # RGB, for drawing label maps
SPLITS = {'train': 'training', 'val': 'validation'}
OTHER = 0  # ADE20K's "other" label, ignored in training and evaluation


@DATASETS.register_module()
class DemoADE20KDataset(ADE20KDataset):
    """ADE20K-layout dataset with the six classes of :func:`generate_demo_ade20k`."""

    METAINFO = dict(classes=CLASSES, palette=PALETTE)


def _label(name: str) -> int:
    return CLASSES.index(name) + 1


def _noise(rng: np.random.Generator, height: int, width: int, sigma: float,
           blur: int = 1) -> np.ndarray:
    """(H, W, 1) Gaussian noise, optionally blurred into a coarser grain."""
    noise = rng.normal(0, sigma, (height, width)).astype(np.float32)
    if blur > 1:
        noise = cv2.blur(noise, (blur, blur)) * blur
    return noise[..., None]


def _stuff_textures(rng: np.random.Generator, height: int, width: int) -> Dict[str, np.ndarray]:
    """Full-size float BGR textures of the stuff classes; a scene shows parts of them."""
    rows = np.arange(height, dtype=np.float32)[:, None, None]
    cols = np.arange(width, dtype=np.float32)[None, :, None]
    sky_top, sky_bottom = np.float32([200, 140, 80]), np.float32([240, 215, 190])
    sky = sky_top + (sky_bottom - sky_top) * rows / height + _noise(rng, height, width, 2)
    wave_period = rng.uniform(5, 9)
    waves = np.sin(2 * np.pi * rows / wave_period + np.sin(cols / rng.uniform(6, 12)))
    water = np.float32([140, 90, 20]) + 35 * waves + _noise(rng, height, width, 6)
    sand = np.float32([130, 195, 225]) + _noise(rng, height, width, 18)
    grass = np.float32([40, 140, 50]) + _noise(rng, height, width, 14, blur=3) * [0.5, 1.5, 0.5]
    return dict(sky=sky, water=water, sand=sand, grass=grass)


def _wavy_line(rng: np.random.Generator, length: int, start: float, end: float) -> np.ndarray:
    """Positions (one per row or column) between ``start`` and ``end`` with a gentle wave."""
    base = rng.uniform(start, end)
    t = np.arange(length)
    return base + rng.uniform(2, 6) * np.sin(2 * np.pi * t / rng.uniform(40, 120) +
                                             rng.uniform(0, 2 * np.pi))


def _paint_stuff(rng: np.random.Generator, image: np.ndarray, label: np.ndarray):
    height, width = label.shape
    textures = _stuff_textures(rng, height, width)
    rows = np.arange(height)[:, None]
    cols = np.arange(width)[None, :]
    horizon = _wavy_line(rng, width, 0.25 * height, 0.5 * height)[None, :]
    shore = horizon + _wavy_line(rng, width, 0.1 * height, 0.35 * height)[None, :]
    split = _wavy_line(rng, height, 0.2 * width, 0.8 * width)[:, None]
    left, right = rng.permutation(['sand', 'grass'])
    if rng.random() < 0.3:  # a field of one kind only
        left = right
    ground = rows >= shore
    # Painted in order: the left field covers the right one where both apply.
    for name, region in (('sky', rows < horizon), ('water', (rows >= horizon) & ~ground),
                         (right, ground), (left, ground & (cols < split))):
        image[region] = textures[name][region]
        label[region] = _label(name)


def _shape_mask(rng: np.random.Generator, kind: str, height: int, width: int) -> np.ndarray:
    """A boolean mask of one ball, box or irregular polygon at a random place."""
    mask = np.zeros((height, width), np.uint8)
    size = int(rng.integers(min(height, width) // 8, min(height, width) // 3))
    cx, cy = int(rng.integers(size, width - size)), int(rng.integers(height // 4, height - size))
    if kind == 'ball':
        cv2.circle(mask, (cx, cy), size // 2, 1, -1)
    elif kind == 'box':
        half_w, half_h = size // 2, int(size * rng.uniform(0.3, 0.6))
        cv2.rectangle(mask, (cx - half_w, cy - half_h), (cx + half_w, cy + half_h), 1, -1)
    else:
        angles = np.sort(rng.uniform(0, 2 * np.pi, 6))
        radii = rng.uniform(0.3, 0.6, 6) * size
        points = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1)
        cv2.fillPoly(mask, [points.astype(np.int32)], 1)
    return mask.astype(bool)


def _paint_thing(rng: np.random.Generator, kind: str, mask: np.ndarray, image: np.ndarray):
    ys, xs = np.nonzero(mask)
    if kind == 'ball':  # red-orange, lit from the top left
        colour = np.float32([rng.uniform(20, 60), rng.uniform(30, 110), rng.uniform(190, 250)])
        diameter = max(np.ptp(ys), 1)
        light_y, light_x = ys.mean() - 0.3 * diameter, xs.mean() - 0.3 * diameter
        light = 1.2 - 0.6 * np.hypot(ys - light_y, xs - light_x)[:, None] / diameter
        image[ys, xs] = colour * light
    elif kind == 'box':  # purple, with a dark rim
        image[mask] = [rng.uniform(130, 200), rng.uniform(50, 90), rng.uniform(110, 170)]
        inner = cv2.erode(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        image[mask & ~inner] *= 0.45
    else:  # unlabelled clutter: a flat grey
        image[mask] = rng.uniform(90, 170)


def make_scene(rng: np.random.Generator, height: int, width: int) -> Tuple[np.ndarray, np.ndarray]:
    """One scene: a BGR uint8 image ``(H, W, 3)`` and its label map ``(H, W)`` (0..6)."""
    image = np.zeros((height, width, 3), np.float32)
    label = np.full((height, width), OTHER, np.uint8)
    _paint_stuff(rng, image, label)
    kinds = list(rng.choice(['ball', 'box'], int(rng.integers(1, 5))))
    if rng.random() < 0.5:
        kinds.insert(int(rng.integers(len(kinds) + 1)), 'other')
    for kind in kinds:  # later shapes occlude earlier ones
        mask = _shape_mask(rng, kind, height, width)
        _paint_thing(rng, kind, mask, image)
        label[mask] = OTHER if kind == 'other' else _label(kind)
    image *= rng.uniform(0.85, 1.15)  # global exposure
    return np.clip(image, 0, 255).astype(np.uint8), label


def generate_demo_ade20k(root: str, num_train: int = 300, num_val: int = 50, height: int = 120,
                         width: int = 160, seed: int = 0) -> Dict[str, str]:
    """Write the dataset under ``root`` (layout in the module docstring).

    The same arguments always give the same files. Returns the image folder of each split.
    """
    if min(height, width) < 48:
        raise ValueError(f'demo images must be at least 48 pixels on each side, got '
                         f'{height}x{width}')
    rng = np.random.default_rng(seed)
    written = {}
    for split, count in (('train', num_train), ('val', num_val)):
        image_dir = osp.join(root, 'images', SPLITS[split])
        label_dir = osp.join(root, 'annotations', SPLITS[split])
        os.makedirs(image_dir, exist_ok=True)
        os.makedirs(label_dir, exist_ok=True)
        for index in range(1, count + 1):
            image, label = make_scene(rng, height, width)
            cv2.imwrite(osp.join(image_dir, f'{index:06d}.jpg'), image,
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
            cv2.imwrite(osp.join(label_dir, f'{index:06d}.png'), label)
        written[split] = image_dir
    return written
