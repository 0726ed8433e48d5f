"""Train a detector (mmdet config) or a segmenter (mmseg config); the config's scope decides.

    python tools/train.py configs/retinanet_lsnet_t_coco.py [--work-dir DIR] [--amp] [--resume]
        [--compile]
"""
import argparse

import torch
from mmengine.config import DictAction

from lsnet_dense.cli import (add_trust_checkpoint_argument, build_runner, exit_on_error,
                             parse_with_launcher, set_up_tool_process)
from lsnet_dense.engine import (amp_optim_wrapper, check_checkpoint, check_datasets,
                                check_pretrained, compile_hook_config, distributed,
                                latest_checkpoint, load_run_config)
from lsnet_dense.errors import PreflightError


def parse_args():
    parser = argparse.ArgumentParser(description='Train an LSNet detector or segmenter')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: ./work_dirs/CONFIG_NAME)')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision (GPU)')
    parser.add_argument('--sync-bn', action='store_true',
                        help="convert the model's BatchNorm layers to SyncBatchNorm (DDP on GPUs)")
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the backbone and neck (the config key compile=True '
                        'or compile=dict(...) of torch.compile options does the same)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate by the actual batch size')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from CHECKPOINT, or without a value from the latest '
                        'checkpoint in the work dir')
    parser.add_argument('--seed', type=int, help='random seed')
    parser.add_argument('--deterministic', action='store_true',
                        help='deterministic algorithms (reproducible, slower)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. train_cfg.max_iters=100')
    add_trust_checkpoint_argument(parser)
    return parse_with_launcher(parser)


def build_config(args):
    cfg = load_run_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    if args.amp:
        if not torch.cuda.is_available():
            raise PreflightError('--amp needs a CUDA GPU; mmengine has no CPU mixed precision')
        cfg.optim_wrapper = amp_optim_wrapper(cfg.optim_wrapper)
    # mmengine's own `compile` would wrap the whole train_step (target assignment and losses
    # too, which recompile on every batch): here it compiles the backbone and neck.
    compile_cfg = cfg.pop('compile', None)
    if args.compile and not compile_cfg:
        compile_cfg = True
    if compile_cfg not in (None, False):
        cfg.default_hooks.compile = compile_hook_config(compile_cfg)
    if args.sync_bn:
        cfg.sync_bn = 'torch'
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, latest_checkpoint(cfg.work_dir)
    elif args.resume is not None:
        check_checkpoint(args.resume, '--resume')
        cfg.resume, cfg.load_from = True, args.resume
    if cfg.get('load_from') and not cfg.get('resume'):
        # Fine-tuning (mmdet's recipe: load_from a COCO model, set num_classes): the class
        # layers of a checkpoint of other classes are re-initialised, the rest loads strictly.
        # Resuming continues the checkpoint's own run (its optimizer state too), so stays strict.
        cfg.default_hooks.strict_load.allow_new_classes = True
    if args.seed is not None or args.deterministic:
        cfg.randomness = dict(cfg.get('randomness') or {})
        if args.seed is not None:
            cfg.randomness['seed'] = args.seed
        cfg.randomness['deterministic'] = args.deterministic
    check_datasets(cfg, ['train', 'val'])
    # Even when resuming: the runner initialises the weights before loading the checkpoint.
    check_pretrained(cfg)
    return cfg


def run_train(cfg):
    # The runner lives in this frame alone: it is gone when distributed() ends the group.
    runner = build_runner(cfg)
    runner.train()


def main():
    args = parse_args()
    set_up_tool_process(args.trust_checkpoint)
    with exit_on_error():
        cfg = build_config(args)
        with distributed(cfg):
            run_train(cfg)


if __name__ == '__main__':
    main()
