"""Inference latency and throughput of an LSNet backbone or a whole detector / segmenter.

    python tools/analysis_tools/benchmark.py --backbone t [--shape 512 512] \
        [--compare resnet18 mobilenetv2]
    python tools/analysis_tools/benchmark.py CONFIG [--part model|backbone] [--shape H W] \
        [--batch N] [--device cpu|cuda] [--deploy] [--channels-last] [--compile] [--threads N]
    python tools/analysis_tools/benchmark.py --backend onnxruntime --backbone t \
        --compare resnet18 mobilenetv2 [--threads 2] [--ort-optimization all|extended|basic]
    python tools/analysis_tools/benchmark.py CONFIG --end2end --backend onnxruntime openvino \
        [--precision f32 bf16] --compare resnet18 mobilenetv2 [--threads 2]

Latency is the median over the timed runs after the warm-up runs; all models measured in one
run are called in turns, so their ratio is fair even on a busy machine. Weights are random:
speed does not depend on them. With ``--backend onnxruntime`` every model is first exported
with torch's ONNX exporter (LSNet as tools/deployment/export_onnx.py writes it) and all run
with the same session options.

With ``--end2end`` (RetinaNet, Semantic FPN, UperNet configs) the whole prediction is timed:
the config's model and, for each ``--compare`` backbone, the same model with that backbone
(neck from its second level, so that the head works at the same strides) are exported by
export_onnx.py --end2end's exporter at a static --shape and run in every runtime asked for
(ONNX Runtime f32, OpenVINO at each --precision). Random weights get BatchNorm statistics and, in
detectors, a classifier with standard normal logits, so that every model's NMS sees the same
score distribution; the output says how much post-processing each did.
"""
import argparse
import os.path as osp
import tempfile
from itertools import product

import torch

from lsnet_dense import LSNet
from lsnet_dense.analysis import synthetic_batch
from lsnet_dense.analysis.end2end_speed import (COMPARED_BACKBONES, backbone_options,
                                                end2end_calls, export_for_speed, runtime_label)
from lsnet_dense.analysis.speed import (onnxruntime_calls, prepare_for_inference,
                                        time_side_by_side)
from lsnet_dense.apis import build_model_from_config, deploy_model
from lsnet_dense.cli import exit_on_error, set_up_tool_process


COMPARISONS = {name: backbone.build for name, backbone in COMPARED_BACKBONES.items()}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Measure inference speed')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('config', nargs='?', help='mmdet / mmseg config file')
    source.add_argument('--backbone', choices=sorted(LSNet.arch_settings),
                        help='time the bare LSNet backbone of this variant')
    parser.add_argument('--backend', nargs='+', choices=['torch', 'onnxruntime', 'openvino'],
                        default=['torch'],
                        help='run the models in PyTorch, or export them to ONNX and run them in '
                        'ONNX Runtime; with --end2end: ONNX Runtime and / or OpenVINO')
    parser.add_argument('--end2end', action='store_true',
                        help='with CONFIG: export the whole model with its post-processing '
                        '(export_onnx.py --end2end) and time it')
    parser.add_argument('--precision', nargs='+', choices=['f32', 'bf16'], default=['f32'],
                        help='with --end2end: OpenVINO\'s inference precisions (ONNX Runtime '
                        'runs f32)')
    parser.add_argument('--ort-optimization', choices=['basic', 'extended', 'all'],
                        default='all', help='ONNX Runtime graph optimisation level')
    parser.add_argument('--part', choices=['model', 'backbone'], default='model',
                        help='with CONFIG: the whole model (inference with post-processing) '
                        'or its backbone only')
    parser.add_argument('--shape', type=int, nargs=2, default=(512, 512), metavar=('H', 'W'))
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--device', default='cpu', help="'cpu', 'cuda' or 'cuda:N'")
    parser.add_argument('--deploy', action='store_true',
                        help='fold LSNet (switch_to_deploy) and the Conv+BN pairs of the '
                        'compared backbones')
    parser.add_argument('--channels-last', action='store_true', help='NHWC weights and inputs')
    parser.add_argument('--compile', action='store_true', help='torch.compile every model')
    parser.add_argument('--threads', type=int,
                        help='CPU threads: torch\'s, or ONNX Runtime\'s intra-op threads '
                        '(default: the runtime\'s own choice)')
    parser.add_argument('--warmup', type=int, default=10, help='untimed runs first')
    parser.add_argument('--iters', type=int, default=30, help='timed runs')
    parser.add_argument('--compare', nargs='+', choices=sorted(COMPARISONS), default=[],
                        help='mmdet backbones to time beside a backbone, with the same settings')
    args = parser.parse_args(argv)
    if args.iters < 2:
        parser.error(f'--iters {args.iters}: at least 2 timed runs are needed for the median and '
                     'the spread')
    if args.end2end:
        check_end2end_args(parser, args)
        return args
    if len(args.backend) > 1 or 'openvino' in args.backend or args.precision != ['f32']:
        parser.error('several --backend values, openvino and --precision time end-to-end files: '
                     'add CONFIG --end2end')
    args.backend = args.backend[0]
    if args.compare and args.config and args.part == 'model':
        parser.error('--compare times backbones beside a backbone: add --part backbone, or '
                     '--end2end for whole models')
    if args.backend == 'onnxruntime':
        if args.channels_last or args.compile:
            parser.error('--channels-last and --compile are PyTorch settings; ONNX Runtime '
                         'chooses its own layouts (see --ort-optimization)')
        if args.config and args.part == 'model':
            parser.error('--backend onnxruntime times backbones: add --part backbone (for whole '
                         'models see tools/test.py CONFIG FILE.onnx)')
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        parser.error(f'--device {args.device}: no CUDA device is available')
    return args


def check_end2end_args(parser, args):
    if not args.config:
        parser.error('--end2end times a detector or segmenter: give CONFIG, not --backbone')
    if 'torch' in args.backend:
        parser.error('--end2end times exported files: give --backend onnxruntime and / or '
                     'openvino')
    if 'bf16' in args.precision and 'openvino' not in args.backend:
        parser.error('--precision bf16 runs in OpenVINO: add openvino to --backend')
    if args.part != 'model' or args.batch != 1 or args.device != 'cpu':
        parser.error('--end2end files take one image (--batch 1) of the whole model (--part '
                     'model) and run on the CPU (--device cpu)')
    if args.deploy or args.channels_last or args.compile:
        parser.error('--deploy, --channels-last and --compile are PyTorch settings; end-to-end '
                     'files are exported with every backbone folded')


def end2end_runtimes(args):
    """(backend, precision) pairs, ONNX Runtime in f32 only."""
    return [(backend, precision) for backend, precision in product(args.backend, args.precision)
            if backend == 'openvino' or precision == 'f32']


def build_end2end_calls(args, folder):
    """As :func:`build_calls` for ``--end2end``; also returns notes per model for the output."""
    name = osp.splitext(osp.basename(args.config))[0]
    files, notes = {}, {}
    for index, (label, options) in enumerate(
            [(name, None)] + [(other, backbone_options(other)) for other in args.compare]):
        files[label] = osp.join(folder, f'model{index}.onnx')
        notes[label] = export_for_speed(args.config, files[label], args.shape, options)
    calls = end2end_calls(files, end2end_runtimes(args), args.shape, args.threads,
                          args.ort_optimization)
    return calls, notes


def build_calls(args, folder):
    """Label -> function running one inference, all with the requested settings.

    ``folder``: where ONNX Runtime's exported files go.
    """
    if args.backend == 'onnxruntime':
        if args.backbone:
            models = {f'LSNet-{args.backbone.upper()} backbone': LSNet(args.backbone)}
        else:
            detector, _ = build_model_from_config(args.config)
            models = {f'{osp.splitext(osp.basename(args.config))[0]} backbone':
                      detector.backbone}
        models.update({name: COMPARISONS[name]() for name in args.compare})
        return onnxruntime_calls(models, (args.batch, 3, *args.shape), folder, args.threads,
                                 args.ort_optimization, args.deploy, args.device)
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    images = torch.randn(args.batch, 3, *args.shape, device=args.device).contiguous(
        memory_format=memory_format)
    settings = dict(deploy=args.deploy, channels_last=args.channels_last, compile=args.compile)
    calls = {}
    if args.backbone:
        backbone = LSNet(args.backbone).to(args.device)
        model = prepare_for_inference(backbone, **settings)
        calls[f'LSNet-{args.backbone.upper()} backbone'] = lambda: model(images)
    else:
        detector, cfg = build_model_from_config(args.config, device=args.device)
        name = osp.splitext(osp.basename(args.config))[0]
        if args.part == 'backbone':
            model = prepare_for_inference(detector.backbone, **settings)
            calls[f'{name} backbone'] = lambda: model(images)
        else:
            if args.deploy:
                deploy_model(detector)
            settings['deploy'] = False
            model = prepare_for_inference(detector, **settings)
            _, samples = synthetic_batch(cfg.default_scope, args.batch, *args.shape)
            calls[name] = lambda: model.predict(images, samples)
    for comparison in args.compare:
        other = prepare_for_inference(COMPARISONS[comparison]().to(args.device), **settings)
        calls[comparison] = lambda other=other: other(images)
    return calls


def describe_settings(args):
    size = f'input {args.batch}x3x{args.shape[0]}x{args.shape[1]}'
    rounds = (f'median of {args.iters} runs after {args.warmup} warm-up runs, models called in '
              'turns')
    if args.end2end:
        threads = f'{args.threads} threads' if args.threads else 'default threads'
        runtimes = ', '.join(runtime_label(*r) for r in end2end_runtimes(args))
        return (f'{size}, end-to-end files (export_onnx.py --end2end, static size, backbones '
                f'folded) in {runtimes} ({threads}, ONNX Runtime graph optimisation '
                f'{args.ort_optimization}); {rounds}')
    if args.backend == 'onnxruntime':
        import onnxruntime
        threads = f'{args.threads} intra-op threads' if args.threads else 'default threads'
        return (f'{size}, ONNX Runtime {onnxruntime.__version__} ({args.device}, {threads}, '
                f'graph optimisation {args.ort_optimization}), exported with torch.onnx.export '
                f'(dynamo){", compared backbones Conv+BN folded first" if args.deploy else ""}'
                f'; LSNet folded as tools/deployment/export_onnx.py writes it; {rounds}')
    threads = torch.get_num_threads()
    flags = [name for name, on in (('deploy', args.deploy), ('channels_last', args.channels_last),
                                   ('torch.compile', args.compile)) if on]
    return (f'{size}, device {args.device}'
            f'{f" ({threads} threads)" if args.device == "cpu" else ""}, eval mode, '
            f'{", ".join(flags) or "no deploy fusion, NCHW, eager"}; {rounds}')


def main(argv=None):
    args = parse_args(argv)
    set_up_tool_process()
    if args.threads and args.backend == 'torch':
        torch.set_num_threads(args.threads)
    notes = {}
    with tempfile.TemporaryDirectory() as folder:
        with exit_on_error():
            if args.end2end:
                calls, notes = build_end2end_calls(args, folder)
            else:
                calls = build_calls(args, folder)
        timings = time_side_by_side(calls, args.batch, args.warmup, args.iters, args.device)
    print(describe_settings(args))
    # End-to-end: each runtime's rows are compared with the config's model in that runtime.
    group = len(args.compare) + 1 if args.end2end else len(timings)
    width = max(36, max(len(t.name) for t in timings) + 2)
    print(f'{"model":<{width}}{"latency (ms)":>14}{"+/- (ms)":>10}{"best (ms)":>11}'
          f'{"images/s":>10}{"ratio":>8}')
    for index, timing in enumerate(timings):
        ratio = timings[index - index % group].median_ms / timing.median_ms
        print(f'{timing.name:<{width}}{timing.median_ms:>14.2f}{timing.spread_ms:>10.2f}'
              f'{timing.best_ms:>11.2f}{timing.images_per_second:>10.2f}{ratio:>8.2f}')
    reference = 'the first row of its runtime' if args.end2end else timings[0].name
    print(f'latency: median; "+/-": half the interquartile range; best: fastest run; images/s '
          f'from the median; ratio: median latency of {reference} / that of the row')
    for label, model_notes in notes.items():
        print(f'{label}: ' + '; '.join(f'{key}: {value}' for key, value in model_notes.items()))


if __name__ == '__main__':
    main()
