"""Fold a trained LSNet detector's or segmenter's backbone into its deploy form and save it.

    python tools/model_converters/reparameterize.py CONFIG CHECKPOINT OUT [--cfg-options ...]

CHECKPOINT is loaded strictly into the config's model, whose backbone is then folded
(``LSNet.switch_to_deploy``: every Conv+BN pair and RepVGG block into one convolution). OUT holds
``state_dict`` and the source's ``meta`` with ``deploy=True`` added; it loads strictly into the
same config's model built with ``model.backbone.deploy=True``:

    python tools/test.py CONFIG OUT --cfg-options model.backbone.deploy=True
"""
import argparse
import os
import os.path as osp
import sys

import torch
from mmengine.config import DictAction

from lsnet_dense.apis import build_model_from_config, deploy_model
from lsnet_dense.cli import add_trust_checkpoint_argument, exit_on_error, set_up_tool_process
from lsnet_dense.engine import load_model_checkpoint


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Fold the LSNet backbone of a trained model into its deploy form')
    parser.add_argument('config', help='config file of the trained model')
    parser.add_argument('checkpoint', help='checkpoint of the trained model')
    parser.add_argument('out', help='folded checkpoint to write')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    add_trust_checkpoint_argument(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    set_up_tool_process(args.trust_checkpoint)
    if (osp.exists(args.out) and osp.exists(args.checkpoint)
            and osp.samefile(args.out, args.checkpoint)):
        sys.exit(f'error: OUT {args.out} is the input checkpoint; write the folded one elsewhere')
    # TypeError: the config's backbone is not an LSNet (deploy_model says so).
    with exit_on_error(TypeError):
        model, _ = build_model_from_config(args.config, args.cfg_options)
        # Loaded here rather than by build_model_from_config: its return value carries the meta.
        checkpoint = load_model_checkpoint(model, args.checkpoint)
        deploy_model(model)
    meta = dict(checkpoint.get('meta') or {}, deploy=True)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    torch.save({'state_dict': model.state_dict(), 'meta': meta}, args.out)
    print(f'wrote {args.out}: {type(model).__name__} with its LSNet backbone folded; load it '
          'with --cfg-options model.backbone.deploy=True')


if __name__ == '__main__':
    main()
