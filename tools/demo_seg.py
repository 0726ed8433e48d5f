"""Segmentation demo without ADE20K: generate scenes, train, test, report, draw.

    python tools/demo_seg.py [--work-dir work_dirs/demo_seg] [--data-root data/demo_ade20k]
                             [--max-iters N] [--threads N] [--data-only]

Generates the ADE20K-layout demo dataset when it is missing (lsnet_dense/datasets/demo_ade20k.py),
trains Semantic FPN with LSNet-T on it from scratch (configs/demo/semfpn_lsnet_t_demo_ade20k.py)
through tools/train.py, evaluates through tools/test.py, prints the mIoU tables of
tools/report_seg.py, and writes WORK_DIR/prediction_vs_ground_truth.png: validation images with
their ground truth and predicted label maps.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time

import cv2
import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
from lsnet_dense.datasets.demo_ade20k import (CLASSES, PALETTE, SPLITS,  # noqa: E402
                                              generate_demo_ade20k)

CONFIG = osp.join(REPO, 'configs', 'demo', 'semfpn_lsnet_t_demo_ade20k.py')
IMAGES_DRAWN = 4
DRAW_SCALE = 2
DEFAULT_THREADS = min(2, len(os.sched_getaffinity(0)))
IGNORED_COLOUR = (0, 0, 0)  # label 0, "other"


def parse_args():
    parser = argparse.ArgumentParser(description='Train and test LSNet Semantic FPN on '
                                     'generated ADE20K-layout scenes')
    parser.add_argument('--work-dir', default=osp.join(REPO, 'work_dirs', 'demo_seg'))
    parser.add_argument('--data-root', default=osp.join(REPO, 'data', 'demo_ade20k'))
    parser.add_argument('--max-iters', type=int,
                        help="training iterations (default: the demo config's)")
    parser.add_argument('--threads', type=int, default=DEFAULT_THREADS,
                        help='PyTorch threads of training and testing (default: 2, or 1 on a '
                        'one-core machine; give 1 on a busy machine, where threads waiting for '
                        'each other cost more than they bring)')
    parser.add_argument('--data-only', action='store_true',
                        help='only generate the dataset (if missing) and stop')
    return parser.parse_args()


def run(command, threads):
    print('+ ' + ' '.join(command), flush=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    if subprocess.run(command, cwd=REPO, env=env).returncode:
        sys.exit(f'error: {osp.basename(command[1])} failed; see its output above')


def colourise(label: np.ndarray) -> np.ndarray:
    """(H, W) raw ADE20K-style labels (0 = other, i + 1 = class i) -> (H, W, 3) BGR."""
    colours = np.array([IGNORED_COLOUR] + [rgb[::-1] for rgb in PALETTE], np.uint8)
    return colours[label]


def caption(width: int, entries) -> np.ndarray:
    """A white strip with ``(x, text, colour swatch or None)`` entries."""
    strip = np.full((28, width, 3), 255, np.uint8)
    for x, text, swatch in entries:
        if swatch is not None:
            cv2.rectangle(strip, (x, 8), (x + 14, 22), swatch, -1)
            x += 18
        cv2.putText(strip, text, (x, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return strip


def draw_predictions(data_root: str, prediction_dir: str, out_file: str):
    """Rows of validation image | ground truth | prediction, and a legend of the classes."""
    names = sorted(f for f in os.listdir(prediction_dir) if f.endswith('.png'))
    rows = []
    for name in names[:IMAGES_DRAWN]:
        stem = osp.splitext(name)[0]
        image = cv2.imread(osp.join(data_root, 'images', SPLITS['val'], stem + '.jpg'))
        truth = cv2.imread(osp.join(data_root, 'annotations', SPLITS['val'], name),
                           cv2.IMREAD_UNCHANGED)
        # mmseg saves predictions in the raw label space (class i as i + 1), like the truth.
        prediction = cv2.imread(osp.join(prediction_dir, name), cv2.IMREAD_UNCHANGED)
        rows.append(np.hstack([image, colourise(truth), colourise(prediction)]))
    grid = cv2.resize(np.vstack(rows), None, fx=DRAW_SCALE, fy=DRAW_SCALE,
                      interpolation=cv2.INTER_NEAREST)
    width = grid.shape[1]
    titles = [(i * width // 3 + 8, title, None)
              for i, title in enumerate(('image', 'ground truth', 'prediction'))]
    legend, x = [], 8
    for name, colour in [('other (ignored)', IGNORED_COLOUR)] + list(zip(CLASSES, PALETTE)):
        legend.append((x, name, tuple(int(c) for c in colour[::-1])))
        x += 30 + 9 * len(name)  # about the width of the swatch and the text
    cv2.imwrite(out_file, np.vstack([caption(width, titles), grid, caption(width, legend)]))


def main():
    args = parse_args()
    start = time.time()
    data_root, work_dir = osp.abspath(args.data_root), osp.abspath(args.work_dir)
    if not osp.isdir(data_root):
        print(f'generating the demo dataset in {data_root}', flush=True)
        # Into a side folder first, so an interrupted run never leaves half a dataset.
        partial = data_root + '.partial'
        shutil.rmtree(partial, ignore_errors=True)
        generate_demo_ade20k(partial)
        os.replace(partial, data_root)
    if args.data_only:
        return
    options = [f'{loader}.dataset.data_root={data_root}'
               for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    if args.max_iters:
        options += [f'train_cfg.max_iters={args.max_iters}',
                    f'train_cfg.val_interval={args.max_iters}',
                    f'default_hooks.checkpoint.interval={args.max_iters}']
    python = sys.executable
    run([python, 'tools/train.py', CONFIG, '--work-dir', work_dir, '--seed', '0',
         '--cfg-options', *options], args.threads)
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    prediction_dir = osp.join(work_dir, 'predicted_label_maps')
    run([python, 'tools/test.py', CONFIG, checkpoint, '--work-dir', work_dir,
         '--out', prediction_dir, '--cfg-options', *options], args.threads)
    run([python, 'tools/report_seg.py', work_dir], args.threads)
    drawing = osp.join(work_dir, 'prediction_vs_ground_truth.png')
    draw_predictions(data_root, prediction_dir, drawing)
    with open(osp.join(work_dir, 'test_metrics.json')) as f:
        miou = json.load(f)['metrics']['mIoU']
    print(f'demo finished in {time.time() - start:.0f} s: val mIoU {miou:.2f}; predictions '
          f'drawn in {drawing}')


if __name__ == '__main__':
    main()
