"""Evaluate a checkpoint with a detection (mmdet) or segmentation (mmseg) config.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE] [--show-dir DIR]
    python tools/test.py CONFIG FILE.onnx ...   # the exported model, in ONNX Runtime
    python tools/test.py CONFIG FILE.onnx --backend openvino [--precision bf16]  # --end2end files

The metrics are printed and written to WORK_DIR/test_metrics.json (see
tools/analysis_tools/report.py).
"""
import argparse
import json
import os.path as osp
import sys

from mmengine.config import DictAction
from mmengine.dist import is_main_process

from lsnet_dense.cli import (add_trust_checkpoint_argument, build_runner, exit_on_error,
                             parse_with_launcher, set_up_tool_process)
from lsnet_dense.deploy import onnx_model_config
from lsnet_dense.deploy.backends import BACKENDS, PRECISIONS
from lsnet_dense.engine import check_checkpoint, check_datasets, distributed, load_run_config
from lsnet_dense.errors import PreflightError


def parse_args():
    parser = argparse.ArgumentParser(description='Test an LSNet detector or segmenter')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file, or a .onnx file written by '
                        'tools/deployment/export_onnx.py (run in ONNX Runtime)')
    parser.add_argument('--work-dir', help='where logs and test_metrics.json go')
    parser.add_argument('--out', help='detection: dump raw predictions to this .pkl file; '
                        'segmentation: save predicted label maps to this folder')
    parser.add_argument('--show-dir', help='draw predictions into this folder (relative to '
                        'the timestamped log folder for detection)')
    parser.add_argument('--backend', choices=BACKENDS, default='onnxruntime',
                        help='runtime of an end-to-end .onnx file (export_onnx.py --end2end), '
                        'on the CPU; raw files run in ONNX Runtime')
    parser.add_argument('--precision', choices=PRECISIONS, default='f32',
                        help='bf16: OpenVINO on CPUs with BF16 instructions')
    parser.add_argument('--deploy', action='store_true',
                        help='fold Conv+BN and RepVGG branches of the backbone before testing')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    add_trust_checkpoint_argument(parser)
    return parse_with_launcher(parser)


def build_config(args):
    cfg = load_run_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    if args.checkpoint.endswith('.onnx'):
        if args.deploy:
            raise PreflightError('--deploy folds a PyTorch backbone; an exported ONNX file is '
                                 'folded already')
        onnx_model_config(cfg, args.checkpoint, backend=args.backend,
                          precision=args.precision)
    else:
        check_checkpoint(args.checkpoint)
        cfg.load_from = args.checkpoint
    if args.show_dir:
        cfg.default_hooks.visualization.draw = True
        if cfg.default_scope == 'mmdet':
            cfg.default_hooks.visualization.test_out_dir = args.show_dir
        else:
            cfg.visualizer.save_dir = args.show_dir
    if args.out and cfg.default_scope == 'mmdet':
        if not args.out.endswith(('.pkl', '.pickle')):
            raise PreflightError(f'--out must be a .pkl file for detection, got {args.out}')
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [
            cfg.test_evaluator]
        cfg.test_evaluator = evaluators + [dict(type='DumpDetResults', out_file_path=args.out)]
    elif args.out:
        cfg.test_evaluator.output_dir = args.out
        cfg.test_evaluator.keep_results = True
    check_datasets(cfg, ['test'])
    return cfg


def run_test(cfg, args):
    """Run the test loop and return its metrics; the runner lives in this frame alone."""
    runner = build_runner(cfg)
    if args.deploy:
        # The checkpoint is loaded at the start of runner.test(); fold right after it.
        runner.register_hook(dict(type='SwitchToDeployHook'))
    return runner.test()


def main():
    args = parse_args()
    set_up_tool_process(args.trust_checkpoint)
    with exit_on_error():
        cfg = build_config(args)
        with distributed(cfg):
            metrics = run_test(cfg, args)
            report(cfg, args, metrics)


def report(cfg, args, metrics):
    if not metrics:
        print('warning: the evaluator returned no metrics; for detection this means no box '
              'scored above model.test_cfg.score_thr (an untrained or early checkpoint?)',
              file=sys.stderr)
    if is_main_process():
        path = osp.join(cfg.work_dir, 'test_metrics.json')
        with open(path, 'w') as f:
            json.dump({'config': args.config, 'checkpoint': args.checkpoint,
                       'metrics': metrics}, f, indent=2)
        print(f'metrics written to {path}')


if __name__ == '__main__':
    main()
