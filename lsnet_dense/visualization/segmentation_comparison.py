"""Rows of image | ground truth | prediction for label maps in ADE20K's raw label space."""
import os
import os.path as osp
from typing import Sequence, Tuple

import cv2
import numpy as np

from .captions import legend_strip, title_strip

IGNORED_COLOUR = (0, 0, 0)  # label 0, ADE20K's "other"


def colourise(label: np.ndarray, palette: Sequence[Tuple[int, int, int]]) -> np.ndarray:
    """(H, W) raw ADE20K-style labels (0 = other, i + 1 = class i) -> (H, W, 3) BGR."""
    colours = np.array([IGNORED_COLOUR] + [rgb[::-1] for rgb in palette], np.uint8)
    return colours[label]


def draw_segmentation_comparison(image_dir: str, label_dir: str, prediction_dir: str,
                                 classes: Sequence[str], palette: Sequence[Tuple[int, int, int]],
                                 out_file: str, num_images: int = 4, scale: int = 2) -> str:
    """Write rows of image | ground truth | prediction, and a legend of the classes.

    Args:
        image_dir: the ``STEM.jpg`` images.
        label_dir: their ``STEM.png`` ground-truth label maps.
        prediction_dir: the ``STEM.png`` predicted label maps, in the same raw label space (as
            mmseg saves them for a dataset with ``reduce_zero_label``).
        classes: class names; class i is label i + 1.
        palette: RGB colour of each class.
        out_file: the PNG to write.
        num_images: rows of the picture (the first predictions by name).
        scale: integer enlargement of the panels.

    Returns:
        ``out_file``.
    """
    names = sorted(f for f in os.listdir(prediction_dir) if f.endswith('.png'))[:num_images]
    if not names:
        raise ValueError(f'no predicted label maps (.png) in {prediction_dir}')
    rows = []
    for name in names:
        image = cv2.imread(osp.join(image_dir, osp.splitext(name)[0] + '.jpg'))
        truth = cv2.imread(osp.join(label_dir, name), cv2.IMREAD_UNCHANGED)
        prediction = cv2.imread(osp.join(prediction_dir, name), cv2.IMREAD_UNCHANGED)
        rows.append(np.hstack([image, colourise(truth, palette), colourise(prediction, palette)]))
    grid = cv2.resize(np.vstack(rows), None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    width = grid.shape[1]
    colours = [IGNORED_COLOUR] + [tuple(int(c) for c in rgb[::-1]) for rgb in palette]
    legend = legend_strip(width, ['other (ignored)', *classes], colours)
    picture = np.vstack([title_strip(width, ('image', 'ground truth', 'prediction')), grid, legend])
    if not cv2.imwrite(out_file, picture):
        raise OSError(f'cannot write {out_file}')
    return out_file
