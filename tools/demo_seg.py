"""Segmentation demo without ADE20K: generate scenes, train, test, report, draw.

    python tools/demo_seg.py [--work-dir work_dirs/demo_seg] [--data-root data/demo_ade20k]
                             [--max-iters N] [--threads N] [--data-only]

Generates the ADE20K-layout demo dataset when it is missing (lsnet_dense/datasets/demo_ade20k.py),
trains Semantic FPN with LSNet-T on it from scratch (configs/demo/semfpn_lsnet_t_demo_ade20k.py)
through tools/train.py, evaluates through tools/test.py, prints the mIoU tables of
tools/analysis_tools/report_seg.py, and writes WORK_DIR/prediction_vs_ground_truth.png:
validation images with their ground truth and predicted label maps.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import time

from lsnet_dense.cli import DEFAULT_THREADS, read_last_checkpoint, run_tool, set_up_tool_process
from lsnet_dense.datasets.demo_ade20k import CLASSES, PALETTE, SPLITS, generate_demo_ade20k
from lsnet_dense.visualization import draw_segmentation_comparison

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs', 'demo', 'semfpn_lsnet_t_demo_ade20k.py')


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


def main():
    args = parse_args()
    set_up_tool_process()
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
    run_tool('tools/train.py', CONFIG, '--work-dir', work_dir, '--seed', '0',
             '--cfg-options', *options, cwd=REPO, threads=args.threads)
    checkpoint = read_last_checkpoint(work_dir)
    prediction_dir = osp.join(work_dir, 'predicted_label_maps')
    run_tool('tools/test.py', CONFIG, checkpoint, '--work-dir', work_dir,
             '--out', prediction_dir, '--cfg-options', *options, cwd=REPO, threads=args.threads)
    run_tool('tools/analysis_tools/report_seg.py', work_dir, cwd=REPO, threads=args.threads)
    drawing = osp.join(work_dir, 'prediction_vs_ground_truth.png')
    # mmseg saves the predictions in the raw label space (class i as i + 1), like the truth.
    draw_segmentation_comparison(osp.join(data_root, 'images', SPLITS['val']),
                                 osp.join(data_root, 'annotations', SPLITS['val']),
                                 prediction_dir, CLASSES, PALETTE, drawing)
    with open(osp.join(work_dir, 'test_metrics.json')) as f:
        miou = json.load(f)['metrics']['mIoU']
    print(f'demo finished in {time.time() - start:.0f} s: val mIoU {miou:.2f}; predictions '
          f'drawn in {drawing}')


if __name__ == '__main__':
    main()
