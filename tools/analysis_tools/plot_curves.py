"""Plot the losses, learning rate and validation metrics of a training run into a PNG.

    python tools/analysis_tools/plot_curves.py WORK_DIR [--out curves.png] \
        [--metrics coco/bbox_mAP ...]
    python tools/analysis_tools/plot_curves.py WORK_DIR/20250101_120000/vis_data/scalars.json

Reads mmengine's scalar log (``vis_data/scalars.json``, one JSON record per line, as written by
``LocalVisBackend``; the ``TIMESTAMP.json`` log has the same format). Given a work dir, the
latest run in it is plotted. Training records carry ``lr`` and losses per logging interval;
validation records carry the metrics and ``step`` (the epoch for epoch-based training, the
iteration for iteration-based training).
"""
import argparse
import glob
import json
import os.path as osp
import sys
from typing import Dict, List, Tuple

import matplotlib

matplotlib.use('Agg')  # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402

# Headline metrics plotted by default when present (mmdet's CocoMetric, mmseg's IoUMetric).
MAIN_METRICS = ('coco/bbox_mAP', 'coco/segm_mAP', 'mIoU')
BOOKKEEPING = {'step', 'epoch', 'iter', 'time', 'data_time', 'memory', 'lr', 'base_lr'}


def find_log(path: str) -> str:
    """The scalar log of ``path``: the file itself, or the latest run's in a work dir."""
    if osp.isfile(path):
        return path
    if not osp.isdir(path):
        raise FileNotFoundError(f'No such work dir or log file: {path}')
    logs = sorted(glob.glob(osp.join(path, '*', 'vis_data', 'scalars.json')) +
                  glob.glob(osp.join(path, 'vis_data', 'scalars.json')))
    if not logs:
        raise FileNotFoundError(f'No vis_data/scalars.json under {path}: is it an mmengine work '
                                'dir of a run that logged at least one interval?')
    return logs[-1]  # run folders are timestamps, so the last sorts latest


def read_records(log: str) -> Tuple[List[dict], List[dict]]:
    """``(training records, validation records)`` of a scalar log."""
    train, val = [], []
    with open(log) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f'{log}:{number} is not a JSON record ({error})') from error
            (train if 'lr' in record else val).append(record)
    if not train and not val:
        raise ValueError(f'{log} holds no records')
    return train, val


def series(records: List[dict], x_key: str, keys) -> Dict[str, Tuple[list, list]]:
    """Key -> (x values, y values) over the records that have the key."""
    curves = {}
    for key in keys:
        points = [(r[x_key], r[key]) for r in records if isinstance(r.get(key), (int, float))]
        if points:
            curves[key] = tuple(map(list, zip(*points)))
    return curves


def metric_keys(val: List[dict], requested) -> List[str]:
    numeric = sorted({k for r in val for k, v in r.items()
                      if k not in BOOKKEEPING and isinstance(v, (int, float))})
    if requested:
        unknown = [k for k in requested if k not in numeric]
        if unknown:
            raise ValueError(f'metrics {unknown} are not in the log; it has {numeric}')
        return list(requested)
    return [k for k in MAIN_METRICS if k in numeric] or numeric


def plot(train: List[dict], val: List[dict], metrics: List[str], title: str, out: str):
    """Three panels: losses and learning rate against iterations, metrics against steps."""
    figure, (loss_ax, lr_ax, val_ax) = plt.subplots(1, 3, figsize=(16, 4.5))
    loss_names = sorted({k for r in train for k in r if 'loss' in k})
    for name, (x, y) in series(train, 'iter', loss_names).items():
        loss_ax.plot(x, y, label=name, linewidth=2 if name == 'loss' else 1)
    loss_ax.set(title='training losses', xlabel='iteration', ylabel='loss')
    for name, (x, y) in series(train, 'iter', ['lr']).items():
        lr_ax.plot(x, y)
    lr_ax.set(title='learning rate', xlabel='iteration', ylabel='lr')
    lr_ax.ticklabel_format(axis='y', style='sci', scilimits=(-2, 2))
    epoch_based = any('epoch' in r for r in train)
    for name, (x, y) in series(val, 'step', metrics).items():
        val_ax.plot(x, y, marker='o', label=name)
    val_ax.set(title='validation', xlabel='epoch' if epoch_based else 'iteration',
               ylabel='metric')
    if not val:
        val_ax.text(0.5, 0.5, 'no validation yet', ha='center', va='center',
                    transform=val_ax.transAxes)
    for axis in (loss_ax, val_ax):
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize='small')
    for axis in (loss_ax, lr_ax, val_ax):
        axis.grid(alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Plot training curves of an mmengine run')
    parser.add_argument('path', help='work dir, or a scalars.json / TIMESTAMP.json log')
    parser.add_argument('--out', help='PNG to write (default: curves.png next to the log)')
    parser.add_argument('--metrics', nargs='+', help=f'validation metrics to plot (default: '
                        f'those of {list(MAIN_METRICS)} present, else all)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        log = find_log(args.path)
        train, val = read_records(log)
        metrics = metric_keys(val, args.metrics)
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f'error: {error}')
    out = args.out or osp.join(osp.dirname(log), 'curves.png')
    plot(train, val, metrics, log, out)
    last = f', last {metrics[0]} {val[-1].get(metrics[0])}' if val and metrics else ''
    print(f'{log}: {len(train)} training and {len(val)} validation records{last}')
    print(f'written: {out}')


if __name__ == '__main__':
    main()
