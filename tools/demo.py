"""The README's main job: LSNet-T RetinaNet learns to detect shapes on this CPU in minutes.

Generates the demo dataset when missing, trains through tools/train.py, tests through
tools/test.py, prints the AP table (tools/report.py) and draws predictions on a val image.
"""
import argparse
import os
import os.path as osp
import subprocess
import sys
import time
from typing import List

import cv2
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
from lsnet_dense.datasets import generate_demo_coco  # noqa: E402

CONFIG = 'configs/demo/retinanet_lsnet_t_demo.py'
DATA_ROOT = 'data/demo_coco'


def run(*args, threads: int):
    """Run a tool of this repo with the current interpreter; its output streams through."""
    command = [sys.executable, *args]
    print('$ ' + ' '.join(command), flush=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    subprocess.run(command, cwd=ROOT, check=True, env=env)


def epoch_options(epochs: int) -> List[str]:
    """``--cfg-options`` that train the demo config for ``epochs`` epochs.

    The epoch-based learning-rate steps (and the ends of those schedules) move in proportion,
    so that ``--epochs 8`` decays at epoch 6 as 24 epochs do at 18; the validation and the
    checkpoint come at the last epoch.
    """
    cfg = Config.fromfile(osp.join(ROOT, CONFIG), import_custom_modules=False)
    planned = cfg.train_cfg.max_epochs
    options = [f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs}',
               f'default_hooks.checkpoint.interval={epochs}']
    for i, scheduler in enumerate(cfg.param_scheduler):
        if not scheduler.get('by_epoch', True):
            continue
        if 'milestones' in scheduler:
            milestones = [max(1, m * epochs // planned) for m in scheduler.milestones]
            options.append(f'param_scheduler.{i}.milestones={milestones}'.replace(' ', ''))
        if scheduler.get('end') == planned:
            options.append(f'param_scheduler.{i}.end={epochs}')
    return options


def enlarge(drawing: str) -> str:
    """Save ``drawing`` 3x larger as PNG: the demo images are 128 px, too small to read labels."""
    png = osp.splitext(drawing)[0] + '.png'
    cv2.imwrite(png, cv2.resize(cv2.imread(drawing), None, fx=3, fy=3,
                                interpolation=cv2.INTER_NEAREST))
    return png


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--work-dir', default='work_dirs/demo_retinanet_lsnet_t')
    parser.add_argument('--epochs', type=int, help='override the demo config\'s epochs')
    parser.add_argument('--threads', type=int, default=1,
                        help='PyTorch threads of training and testing (default 1: the demo\'s '
                        'small tensors gain little from more, and on a busy machine threads '
                        'waiting for each other cost far more than they bring)')
    args = parser.parse_args()
    start = time.time()
    if not osp.exists(osp.join(ROOT, DATA_ROOT, 'annotations', 'instances_val.json')):
        print(f'generating the demo dataset in {DATA_ROOT} ...', flush=True)
        generate_demo_coco(osp.join(ROOT, DATA_ROOT))

    train_args = ['tools/train.py', CONFIG, '--work-dir', args.work_dir]
    if args.epochs:
        train_args += ['--cfg-options', *epoch_options(args.epochs)]
    run(*train_args, threads=args.threads)
    with open(osp.join(ROOT, args.work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    run('tools/test.py', CONFIG, checkpoint, '--work-dir', args.work_dir, threads=args.threads)
    run('tools/report.py', osp.join(args.work_dir, 'test_metrics.json'), '--published', 'none',
        threads=args.threads)
    image = osp.join(DATA_ROOT, 'val', '000001.jpg')
    out_dir = osp.join(args.work_dir, 'predictions')
    run('tools/infer.py', CONFIG, checkpoint, image, '--out-dir', out_dir, threads=args.threads)
    picture = enlarge(osp.join(ROOT, out_dir, 'vis', osp.basename(image)))
    print(f'predictions drawn on a val image: {picture}')
    print(f'demo wall time: {(time.time() - start) / 60:.1f} min')


if __name__ == '__main__':
    main()
