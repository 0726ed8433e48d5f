"""The compiled training path against eager: operators per training step (each one a kernel
launch on a GPU), recompiles over varied input sizes, and how closely the compiled step's
losses and gradients follow eager's. The backbone and neck are compiled as
``tools/train.py --compile`` does (``dynamic=True``); weights are the config's initialisation.

    python tools/analysis_tools/train_step_ops.py configs/demo/retinanet_lsnet_t_demo.py \
        [--batch 2] [--sizes 256 320 320 256 288 352 320 320] [--backend inductor|aot_eager]
"""
import argparse
import copy

import torch
from mmengine.config import DictAction

from lsnet_dense.analysis.train_step import (count_top_level_ops, gradients,
                                             synthetic_training_batch, training_loss)
from lsnet_dense.apis import build_model_from_config
from lsnet_dense.cli import exit_on_error, set_up_tool_process
from lsnet_dense.deploy.onnx_config import head_num_classes
from lsnet_dense.engine import compile_hook_config, compile_modules, sizes_apart


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Operators per training step, eager vs '
                                     'torch.compile of the backbone and neck')
    parser.add_argument('config', help='mmdet / mmseg config file')
    parser.add_argument('--batch', type=int, default=2)
    # From 256 on, no feature map of the demo RetinaNet is 1 wide (torch specialises on 1).
    parser.add_argument('--sizes', type=int, nargs='+', default=[256, 320, 320, 256, 288, 352,
                                                                 320, 320],
                        metavar='H W', help='input sizes (pairs), one training step each')
    parser.add_argument('--backend', default='inductor',
                        help="torch.compile backend ('inductor', or 'aot_eager' to check "
                        'graph capture without code generation)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    args = parser.parse_args(argv)
    if len(args.sizes) % 2:
        parser.error(f'--sizes takes pairs H W, got {len(args.sizes)} numbers')
    return args


def relative_difference(expected: dict, got: dict) -> float:
    """``|got - expected| / |expected|`` over all gradients as one vector."""
    diff = torch.cat([(got[name] - grad).flatten() for name, grad in expected.items()])
    return float(diff.norm() / torch.cat([g.flatten() for g in expected.values()]).norm())


def compiled_and_eager_step(eager, compiled, cfg, args, height, width, seed):
    """One training step of each model on the same synthetic batch: losses, gradients, and
    how many graphs were compiled meanwhile."""
    inputs, samples = synthetic_training_batch(cfg.default_scope, args.batch, height, width,
                                               head_num_classes(cfg.model), seed=seed)
    graphs = torch._dynamo.utils.counters['stats']
    before = graphs['unique_graphs']
    losses, grads = [], []
    for model in (eager, compiled):
        model.zero_grad()
        torch.manual_seed(seed)  # the same dropout in both
        loss = training_loss(model, inputs, samples)
        loss.backward()
        losses.append(float(loss))
        grads.append(gradients(model))
    return losses, grads, graphs['unique_graphs'] - before


def main(argv=None):
    args = parse_args(argv)
    set_up_tool_process()
    with exit_on_error():
        eager, cfg = build_model_from_config(args.config, args.cfg_options)
    eager.train()
    compiled = copy.deepcopy(eager)
    options = compile_hook_config(dict(backend=args.backend))
    options.pop('type')
    compile_modules(compiled, **options)
    num_classes = head_num_classes(cfg.model)
    sizes = list(zip(args.sizes[::2], args.sizes[1::2]))
    graphs = torch._dynamo.utils.counters['stats']

    print(f'{args.config}: batch {args.batch}, backbone and neck compiled with {options}')
    print(f'{"input":>10}{"eager loss":>14}{"compiled loss":>15}{"|difference|":>14}'
          f'{"grad rel diff":>15}{"new graphs":>12}')
    for index, (height, width) in enumerate(sizes):
        with sizes_apart():
            losses, grads, new_graphs = compiled_and_eager_step(eager, compiled, cfg, args,
                                                                height, width, index)
        print(f'{f"{height}x{width}":>10}{losses[0]:>14.6f}{losses[1]:>15.6f}'
              f'{abs(losses[0] - losses[1]):>14.2e}{relative_difference(*grads):>15.2e}'
              f'{new_graphs:>12}')
    print(f'graphs compiled in all: {graphs["unique_graphs"]} over {len(sizes)} sizes (one per '
          'compiled module and mode, its backward compiled with it)')

    inputs, samples = synthetic_training_batch(cfg.default_scope, args.batch, *sizes[0],
                                               num_classes)
    print(f'top-level aten operators per training step at {args.batch}x3x{sizes[0][0]}x'
          f'{sizes[0][1]} (forward + backward; on a GPU each is a kernel launch or more):')
    for label, part in (('whole step', None), ('backbone only', 'backbone')):
        counts = []
        for model in (eager, compiled):
            if part is None:
                def step(model=model):
                    training_loss(model, inputs, samples).backward()
            else:
                def step(model=model):
                    sum(out.sum() for out in model.backbone(inputs)).backward()
            counts.append(count_top_level_ops(step))
        print(f'  {label:<14} eager {counts[0]:>6}   compiled {counts[1]:>6}')


if __name__ == '__main__':
    main()
