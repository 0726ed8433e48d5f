"""Convert a published LSNet checkpoint into a file this toolkit loads with ``strict=True``.

    # ImageNet classifier -> backbone-only pretrained file for a config's init_cfg
    python tools/model_converters/convert_checkpoint.py lsnet_t.pth pretrained/lsnet_t.pth \
        [--arch t]
    # RetinaNet / Mask R-CNN (mmdet 2.x) or Semantic FPN (mmseg 0.x) -> mmdet 3.x / mmseg 1.x
    python tools/model_converters/convert_checkpoint.py retinanet_lsnet_t.pth \
        retinanet_lsnet_t_v3.pth --config configs/retinanet_lsnet_t_coco.py

Every renamed, dropped, resized or unplaceable key is listed. The variant is detected from the
tensor shapes; a file of another variant than ``--arch`` (or than the config's backbone) or of
another architecture is refused. With ``--config`` the result is checked to load strictly into
the config's model; without it, the neck and head tensors are kept unchecked.
"""
import argparse
import os
import os.path as osp

import torch
from mmengine.config import DictAction

from lsnet_dense import LSNet
from lsnet_dense.checkpoints import load_checkpoint_file
from lsnet_dense.checkpoints.conversion import VARIANTS, convert_checkpoint
from lsnet_dense.cli import add_trust_checkpoint_argument, exit_on_error, set_up_tool_process


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Convert a published LSNet checkpoint')
    parser.add_argument('src', help='published checkpoint (classification, detection or '
                        'segmentation)')
    parser.add_argument('dst', help='converted file to write')
    parser.add_argument('--arch', choices=VARIANTS,
                        help='refuse the file unless it holds this LSNet variant')
    parser.add_argument('--config', help='detection / segmentation config the converted file '
                        'is for: the result is checked to load strictly into its model')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    parser.add_argument('--quiet', action='store_true', help='print the summary only')
    add_trust_checkpoint_argument(parser)
    return parser.parse_args(argv)


def config_target(config, cfg_options):
    """The config's model (to check against) and its backbone's variant, if a named one."""
    from lsnet_dense.apis import build_model_from_config
    model, cfg = build_model_from_config(config, cfg_options)
    arch = cfg.model.backbone.get('arch')
    if isinstance(arch, str):
        arch = arch.lower().removeprefix('lsnet_')
    return model, arch if arch in VARIANTS else None


def main(argv=None):
    args = parse_args(argv)
    set_up_tool_process(args.trust_checkpoint)
    model, arch = None, args.arch
    with exit_on_error(ValueError, FileNotFoundError):
        if args.config:
            model, config_arch = config_target(args.config, args.cfg_options)
            if args.arch and config_arch and args.arch != config_arch:
                raise ValueError(f'--arch {args.arch} contradicts the LSNet-'
                                 f'{config_arch.upper()} backbone of {args.config}')
            arch = arch or config_arch
        checkpoint = load_checkpoint_file(args.src)
        converted, report = convert_checkpoint(
            checkpoint, args.src, arch, None if model is None else model.state_dict())

    print(report.summary() if args.quiet else report.format())
    if report.layout != 'detection/segmentation':
        model = LSNet(report.arch)
    if model is not None:
        # The point of the conversion: prove the file loads strictly before writing it.
        model.load_state_dict(converted['state_dict'], strict=True)
        print(f'checked: loads into {type(model).__name__} with strict=True')
    else:
        print('not checked beyond the backbone: give --config to check neck and heads')
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(converted, args.dst)
    print(f'written: {args.dst}')


if __name__ == '__main__':
    main()
