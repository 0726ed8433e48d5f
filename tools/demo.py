"""The README's main job: LSNet-T learns to detect shapes on this CPU in minutes.

    python tools/demo.py [--model retinanet|mask_rcnn] [--work-dir DIR] [--data-root DIR]
                         [--epochs N] [--threads N] [--num-train N --num-val N]

Generates the demo dataset when missing (lsnet_dense/datasets/demo_coco.py), trains LSNet-T
RetinaNet (or Mask R-CNN) on it from scratch through tools/train.py, tests it on the val split
through tools/test.py, prints the AP table (tools/analysis_tools/report.py) and draws rows of
val image | ground truth | prediction into WORK_DIR/prediction_vs_ground_truth.png.
"""
import argparse
import contextlib
import io
import json
import os.path as osp
import pickle
import re
import time
from typing import List

from mmengine.config import Config

from lsnet_dense.cli import DEFAULT_THREADS, read_last_checkpoint, run_tool, set_up_tool_process
from lsnet_dense.datasets import DEMO_COCO_VERSION, generate_demo_coco
from lsnet_dense.visualization import draw_detection_comparison

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

MODELS = {
    'retinanet': ('LSNet-T RetinaNet', 'configs/demo/retinanet_lsnet_t_demo.py'),
    'mask_rcnn': ('LSNet-T Mask R-CNN', 'configs/demo/mask_rcnn_lsnet_t_demo.py'),
}
DATA_ROOT = 'data/demo_coco'
STAGES = 5
# mmengine's training log line, e.g. "Epoch(train)  [3][20/20]  ...  eta: 0:01:52 ...".
TRAIN_LOG = re.compile(r'Epoch\(train\)\s+\[(\d+)\]\[\s*(\d+)/(\d+)\].*?eta: (\S+).*?\bloss: (\S+)')


def stage(number: int, text: str):
    print(f'[{number}/{STAGES}] {text}', flush=True)


def epoch_options(config: str, epochs: int) -> List[str]:
    """``--cfg-options`` that train ``config`` for ``epochs`` epochs.

    The epoch-based learning-rate schedules that end with the training (the cosine decay of
    the demo configs) end at ``epochs`` instead; the checkpoint (and a validation, where the
    config keeps one) comes at the last epoch.
    """
    cfg = Config.fromfile(osp.join(ROOT, config), import_custom_modules=False)
    planned = cfg.train_cfg.max_epochs
    options = [f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs}',
               f'default_hooks.checkpoint.interval={epochs}']
    for i, scheduler in enumerate(cfg.param_scheduler):
        if not scheduler.get('by_epoch', True):
            continue
        if scheduler.get('end') == planned:
            options.append(f'param_scheduler.{i}.end={epochs}')
    return options


def data_options(data_root: str) -> List[str]:
    """``--cfg-options`` that read the demo dataset from ``data_root``."""
    options = [f'{loader}.dataset.data_root={data_root}/'
               for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    return options + [f'{evaluator}.ann_file={data_root}/annotations/instances_val.json'
                      for evaluator in ('val_evaluator', 'test_evaluator')]


def print_epochs(epochs: int):
    """A ``run_tool`` progress callback: one line per training log line, with the epoch and ETA."""
    def progress(line: str):
        match = TRAIN_LOG.search(line)
        if match:
            epoch, iteration, iterations, eta, loss = match.groups()
            print(f'  epoch {epoch}/{epochs}, iteration {iteration}/{iterations}: loss {loss}, '
                  f'ETA {eta}', flush=True)
    return progress


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model', choices=sorted(MODELS), default='retinanet',
                        help='the detector to train (default retinanet; mask_rcnn adds masks)')
    parser.add_argument('--work-dir', help='default: work_dirs/demo_MODEL_lsnet_t')
    parser.add_argument('--data-root', default=DATA_ROOT,
                        help=f'the demo dataset; generated when missing (default {DATA_ROOT})')
    parser.add_argument('--epochs', type=int, help='override the demo config\'s epochs')
    parser.add_argument('--num-train', type=int, default=3200,
                        help='training images of a generated dataset (default 3200)')
    parser.add_argument('--num-val', type=int, default=200,
                        help='val images of a generated dataset (default 200)')
    parser.add_argument('--threads', type=int, default=DEFAULT_THREADS,
                        help='PyTorch threads of training and testing (default: 2, or 1 on a '
                        'one-core machine; on a quiet 2-core CPU two threads train the demo 1.6x '
                        'faster than one, but on a busy machine give 1: threads waiting for each '
                        'other then cost more than they bring)')
    args = parser.parse_args()
    set_up_tool_process()
    name, config = MODELS[args.model]
    work_dir = args.work_dir or f'work_dirs/demo_{args.model}_lsnet_t'
    cfg = Config.fromfile(osp.join(ROOT, config), import_custom_modules=False)
    epochs = args.epochs or cfg.train_cfg.max_epochs
    times = {}
    start = time.time()

    data_root = osp.join(ROOT, args.data_root)  # as given when absolute
    ann_file = osp.join(data_root, 'annotations', 'instances_val.json')
    if osp.exists(ann_file):
        stage(1, f'demo dataset: {args.data_root} (there already)')
        with open(ann_file) as f:
            version = json.load(f)['info'].get('version')
        if version != DEMO_COCO_VERSION:
            print(f'  note: it was generated by an older lsnet_dense (data version {version}, now '
                  f'{DEMO_COCO_VERSION}): the AP will differ from the README\'s. Delete '
                  f'{args.data_root} to generate the current one.', flush=True)
    else:
        stage(1, f'generating the demo dataset in {args.data_root} ...')
        generate_demo_coco(data_root, num_train=args.num_train, num_val=args.num_val)
    times['data'] = time.time() - start
    data = data_options(data_root) if args.data_root != DATA_ROOT else []

    stage(2, f'training {name} from scratch for {epochs} epochs (full log in {work_dir}) ...')
    # Stage 3 tests the checkpoint: a validation at the end of training would be the same pass.
    train_options = (data + (epoch_options(config, args.epochs) if args.epochs else [])
                     + ['val_cfg=None', 'val_dataloader=None', 'val_evaluator=None'])
    run_tool('tools/train.py', config, '--work-dir', work_dir, '--cfg-options', *train_options,
             cwd=ROOT, threads=args.threads, progress=print_epochs(epochs))
    times['training'] = time.time() - start - sum(times.values())
    checkpoint = read_last_checkpoint(osp.join(ROOT, work_dir))

    stage(3, 'testing on the val split ...')
    predictions = osp.join(work_dir, 'val_predictions.pkl')
    run_tool('tools/test.py', config, checkpoint, '--work-dir', work_dir, '--out', predictions,
             *(['--cfg-options', *data] if data else []), cwd=ROOT, threads=args.threads,
             progress=lambda line: None)
    run_tool('tools/analysis_tools/report.py', osp.join(work_dir, 'test_metrics.json'),
             '--published', 'none', cwd=ROOT, threads=args.threads)
    times['testing'] = time.time() - start - sum(times.values())

    stage(4, 'drawing val images: image | ground truth | prediction ...')
    with open(osp.join(ROOT, predictions), 'rb') as f:
        results = pickle.load(f)
    picture = osp.join(work_dir, 'prediction_vs_ground_truth.png')
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools' loading chatter
        draw_detection_comparison(results, ann_file, cfg.metainfo['classes'],
                                  cfg.metainfo['palette'], osp.join(ROOT, picture))
    times['drawing'] = time.time() - start - sum(times.values())

    stage(5, 'written:')
    for what, path in (('checkpoint', checkpoint),
                       ('AP tables', osp.join(work_dir, 'report.{md,csv,json}')),
                       ('val predictions', predictions),
                       ('picture', picture)):
        print(f'  {what}: {path}')
    split = ', '.join(f'{what} {seconds:.0f} s' for what, seconds in times.items())
    print(f'demo finished in {(time.time() - start) / 60:.1f} min ({split})')


if __name__ == '__main__':
    main()
