"""Parameters and FLOPs of a detector / segmenter config, or of the bare LSNet classifier.

    python tools/analysis_tools/get_flops.py CONFIG [--shape H W] [--deploy]
    python tools/analysis_tools/get_flops.py --backbone t [--shape 224 224] [--deploy]

Prints the backbone, the neck, the head(s) and the whole model. ``--backbone`` counts the
published ImageNet classifier (backbone + BatchNorm1d/Linear 1000-class head on the pooled last
stage); at 224x224 it also prints the paper's figures beside its own.
"""
import argparse
import os.path as osp

import torch
from mmengine.config import DictAction

from lsnet_dense.analysis import (FLOP_CONVENTION, TensorForward, analyze_complexity,
                                  synthetic_batch)
from lsnet_dense.apis import build_model_from_config
from lsnet_dense.cli import exit_on_error, set_up_tool_process
from lsnet_dense.models.classifier import LSNetClassifier

PAPER_SHAPE = (224, 224)
DEFAULT_SHAPES = {'classification': PAPER_SHAPE, 'mmdet': (800, 1344), 'mmseg': (512, 512)}
# Paper, Table 1: parameters (M) and FLOPs (G) of the ImageNet classifiers at 224x224.
PAPER = {'t': (11.4, 0.3), 's': (16.1, 0.5), 'b': (23.2, 1.3)}
HEAD_MODULES = ('head', 'head_dist')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Count parameters and FLOPs')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('config', nargs='?', help='mmdet / mmseg config file')
    source.add_argument('--backbone', choices=sorted(PAPER),
                        help='count the LSNet ImageNet classifier of this variant instead')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='input size (default 224x224 for --backbone, 800x1344 for '
                        'detection, 512x512 for segmentation)')
    parser.add_argument('--deploy', action='store_true',
                        help='count the deployed model: BatchNorms and RepVGG branches folded')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    return parser.parse_args(argv)


def classifier_complexity(arch, shape, deploy):
    model = LSNetClassifier(arch).eval()
    if deploy:
        model.switch_to_deploy()
    heads = [name for name in HEAD_MODULES if hasattr(model, name)]
    parts = {'backbone': [name for name, _ in model.named_children() if name not in heads],
             'head': heads}
    title = (f'LSNet-{arch.upper()} ImageNet classifier (backbone + BatchNorm1d/Linear '
             '1000-class head on the pooled last stage)')
    return title, analyze_complexity(model, (torch.zeros(1, 3, *shape),), parts)


def config_complexity(config, shape, deploy, cfg_options):
    model, cfg = build_model_from_config(config, cfg_options, deploy=deploy)
    inputs, data_samples = synthetic_batch(cfg.default_scope, 1, *shape)
    wrapped = TensorForward(model, data_samples)
    heads = [f'model.{name}' for name, _ in model.named_children()
             if name not in ('backbone', 'neck', 'data_preprocessor')]
    parts = {'backbone': ['model.backbone'], 'neck': ['model.neck'], 'head': heads}
    title = f'{osp.basename(config)}: {type(model).__name__} (heads: ' + ', '.join(
        name[len('model.'):] for name in heads) + ')'
    if 'rpn_head' in dict(model.named_children()):
        title += ('\nnote: the RoI head runs on the proposals the RPN keeps for a random image, '
                  'so its FLOPs depend on that number')
    with torch.no_grad():
        return title, analyze_complexity(wrapped, (inputs,), parts)


def paper_comparison(arch, complexity, deploy):
    """The paper's figures beside ours as trained and deployed.

    The paper's parameters are those of the deployed classifier (BatchNorms folded: LSNet-B has
    23.25 M, 23.31 M as trained) and its FLOPs those of the classifier as trained (BatchNorm
    counted: LSNet-B has 1.259 G, 1.248 G deployed); each matches to the paper's precision.
    """
    _, other = classifier_complexity(arch, PAPER_SHAPE, not deploy)
    trained, deployed = (other, complexity) if deploy else (complexity, other)
    params, flops = PAPER[arch]
    return (f'paper (224x224): {params} M params, {flops} G FLOPs; here: '
            f'{deployed.params / 1e6:.2f} M params deployed ({trained.params / 1e6:.2f} M as '
            f'trained), {trained.flops / 1e9:.3f} G FLOPs as trained ({deployed.flops / 1e9:.3f} G '
            'deployed).\nThe paper\'s figures are matched by the parameters of the deployed '
            'model and the FLOPs of the model as trained (BatchNorm operations included).')


def format_table(title, complexity, shape, deploy):
    state = ('deployed: BatchNorms and RepVGG branches folded' if deploy else
             'as trained: BatchNorms and RepVGG branches unfolded')
    lines = [title, f'input 1x3x{shape[0]}x{shape[1]}, {state}',
             f'{"part":<10}{"params (M)":>12}{"FLOPs (G)":>12}']
    rows = list(complexity.parts.items()) + [('total', (complexity.params, complexity.flops))]
    for name, (params, flops) in rows:
        lines.append(f'{name:<10}{params / 1e6:>12.3f}{flops / 1e9:>12.3f}')
    if 'other' in complexity.parts:
        lines.append('other: operators outside these parts (e.g. global pooling, RoI extraction)')
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    set_up_tool_process()
    with exit_on_error():
        if args.backbone:
            shape = tuple(args.shape or DEFAULT_SHAPES['classification'])
            title, complexity = classifier_complexity(args.backbone, shape, args.deploy)
        else:
            if args.shape is None:
                from lsnet_dense.engine import load_config
                scope = load_config(args.config, args.cfg_options).default_scope
                args.shape = DEFAULT_SHAPES[scope]
            shape = tuple(args.shape)
            title, complexity = config_complexity(args.config, shape, args.deploy,
                                                  args.cfg_options)
    print(format_table(title, complexity, shape, args.deploy))
    if args.backbone and shape == PAPER_SHAPE:
        print(paper_comparison(args.backbone, complexity, args.deploy))
    print(FLOP_CONVENTION)
    if complexity.uncounted:
        print('operators not counted: ' + ', '.join(
            f'{op} x{count}' for op, count in sorted(complexity.uncounted.items())))


if __name__ == '__main__':
    main()
