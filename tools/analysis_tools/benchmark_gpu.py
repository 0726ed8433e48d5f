"""GPU figures of LSNet: SKA kernels, backbone throughput, detector and segmenter train steps.

    python tools/analysis_tools/benchmark_gpu.py [--parts ska backbone retinanet semfpn] \
        [--iters N]

- ska: SKA forward + backward at LSNet-T's SKA shapes at 1333x800 (batch 2): ska_torch,
  the fused Triton kernels, and ska_torch through torch.compile; called from Python and
  replayed from a CUDA graph (medians of triton.testing.do_bench / do_bench_cudagraph).
- backbone: LSNet-T/S/B inference images/s at 224x224, batch 256, deploy fusion on, float32
  and float16 autocast; LSNet-T also with SKA in PyTorch, to show what the kernels change.
- retinanet: one training iteration (data preprocessor, forward, loss, backward, AdamW step;
  mmengine's ``train_step``) of RetinaNet LSNet-T and of mmdet's RetinaNet R-50, 1333x800,
  batch 2, float32 and AMP, called in turns; with the share of the step the GPU was busy.
- semfpn: the same for Semantic FPN LSNet-T at 512x512, batch 4.

Weights are random and data synthetic: speed does not depend on them. TF32 stays at PyTorch's
defaults (off for matrix products, on for cuDNN convolutions).
"""
import argparse
import os.path as osp
import statistics
import time

import torch

import lsnet_dense.ops as ops
from lsnet_dense import LSNet
from lsnet_dense.analysis.speed import prepare_for_inference, time_side_by_side
from lsnet_dense.apis import build_model_from_config
from lsnet_dense.cli import set_up_tool_process

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# SKA's (B, C, G, H, W) in LSNet-T at 1333x800 (padded to 1344x800), batch 2: stages 2 and 3.
LSNET_T_SKA_SHAPES = [(2, 128, 16, 50, 84), (2, 256, 32, 25, 42)]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='GPU speed figures of LSNet')
    parser.add_argument('--parts', nargs='+', default=['ska', 'backbone', 'retinanet', 'semfpn'],
                        choices=['ska', 'backbone', 'retinanet', 'semfpn'])
    parser.add_argument('--iters', type=int, default=20, help='timed train steps / inferences')
    parser.add_argument('--warmup', type=int, default=5, help='untimed runs first')
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        parser.error('no CUDA device is available: these figures are GPU figures')
    return args


def benchmark_ska():
    """Each implementation timed twice: called from Python as a model calls it (eager: the
    host's launch and autograd overhead included), and replayed from a CUDA graph (the GPU's
    own time)."""
    from triton.testing import do_bench, do_bench_cudagraph

    from lsnet_dense.ops.ska_triton import ska_triton
    implementations = {'torch': ops.ska_torch, 'Triton': ska_triton,
                       'compile': torch.compile(ops.ska_torch, dynamic=False)}
    print('SKA forward + backward (us, median); eager: called from Python; graph: replayed '
          'from a CUDA graph')
    print(f'{"(B, C, G, H, W)":<24}{"dtype":<10}' + ''.join(
        f'{name + " " + mode:>16}' for mode in ('eager', 'graph') for name in implementations)
        + f'{"torch/Triton graph":>20}')
    for shape in LSNET_T_SKA_SHAPES:
        batch, channels, groups, height, width = shape
        for dtype in (torch.float32, torch.float16):
            x = torch.randn(batch, channels, height, width, device='cuda', dtype=dtype,
                            requires_grad=True)
            w = torch.randn(batch, groups, 9, height, width, device='cuda', dtype=dtype,
                            requires_grad=True)
            grad = torch.randn_like(x)
            eager, graph = [], []
            for function in implementations.values():
                def step(function=function):
                    torch.autograd.grad(function(x, w), (x, w), grad)
                step()  # compiles
                eager.append(do_bench(step, return_mode='median') * 1e3)
                graph.append(do_bench_cudagraph(step, return_mode='median') * 1e3)
            print(f'{str(shape):<24}{str(dtype)[6:]:<10}'
                  + ''.join(f'{t:>16.1f}' for t in eager + graph)
                  + f'{graph[0] / graph[1]:>20.2f}')


def benchmark_backbones(args, batch=256):
    images = torch.randn(batch, 3, 224, 224, device='cuda')
    calls = {}
    for arch in ('t', 's', 'b'):
        model = prepare_for_inference(LSNet(arch).cuda(), deploy=True)
        for dtype in (torch.float32, torch.float16):
            def call(model=model, dtype=dtype):
                with torch.autocast('cuda', dtype=dtype, enabled=dtype != torch.float32):
                    return model(images)
            calls[f'LSNet-{arch.upper()} {str(dtype)[6:]}'] = call
    t_model = prepare_for_inference(LSNet('t').cuda(), deploy=True)

    def t_with_torch_ska():
        ops.HAS_TRITON = False  # the dispatch then takes ska_torch
        try:
            return t_model(images)
        finally:
            ops.HAS_TRITON = True
    calls['LSNet-T float32, SKA in PyTorch'] = t_with_torch_ska
    timings = time_side_by_side(calls, batch, args.warmup, args.iters, 'cuda')
    print(f'backbone inference, {batch}x3x224x224, deploy fusion, eval; median of {args.iters} '
          f'runs, models called in turns')
    print(f'{"model":<36}{"latency (ms)":>14}{"images/s":>12}')
    for timing in timings:
        print(f'{timing.name:<36}{timing.median_ms:>14.2f}{timing.images_per_second:>12.0f}')


def train_steppers(config, batch_inputs, amp):
    """``train_step`` of the config's model with its optimizer (AMP wrapper if ``amp``)."""
    from mmengine.model import revert_sync_batchnorm
    from mmengine.optim import build_optim_wrapper
    model, cfg = build_model_from_config(config, device='cuda')
    # As mmengine's runner does outside distributed training (the segmentation heads use SyncBN).
    model = revert_sync_batchnorm(model).train()
    wrapper_cfg = cfg.optim_wrapper.copy()
    if amp:
        wrapper_cfg.type = 'AmpOptimWrapper'
    optim_wrapper = build_optim_wrapper(model, wrapper_cfg)
    return lambda: model.train_step(batch_inputs, optim_wrapper)


def time_train_steps(steppers, args):
    """Median seconds per step of each stepper (called in turns), and its GPU kernel time."""
    from torch.profiler import ProfilerActivity, profile
    latencies = {name: [] for name in steppers}
    for round_index in range(args.warmup + args.iters):
        for name, step in steppers.items():
            torch.cuda.synchronize()
            start = time.perf_counter()
            step()
            torch.cuda.synchronize()
            if round_index >= args.warmup:
                latencies[name].append(time.perf_counter() - start)
    kernel_seconds = {}
    for name, step in steppers.items():
        with profile(activities=[ProfilerActivity.CUDA]) as profiler:
            step()
            torch.cuda.synchronize()
        kernel_seconds[name] = sum(event.self_device_time_total
                                   for event in profiler.key_averages()) / 1e6
    return {name: (statistics.median(values), kernel_seconds[name])
            for name, values in latencies.items()}


def print_train_steps(title, timings, batch):
    print(f'{title}; median of the timed steps, models called in turns; GPU busy: the sum of '
          'its kernels\' times in one step (profiler) over the step\'s time')
    print(f'{"model":<36}{"step (ms)":>12}{"images/s":>12}{"GPU busy":>10}')
    for name, (seconds, kernel_seconds) in timings.items():
        print(f'{name:<36}{seconds * 1e3:>12.1f}{batch / seconds:>12.1f}'
              f'{kernel_seconds / seconds:>10.0%}')


def benchmark_retinanet(args, batch=2):
    import mmdet
    from mmdet.testing import demo_mm_inputs
    torch.manual_seed(0)
    data = demo_mm_inputs(batch, (3, 800, 1333), num_items=[10] * batch, num_classes=80)
    configs = {
        'RetinaNet LSNet-T': osp.join(ROOT, 'configs', 'retinanet_lsnet_t_coco.py'),
        'RetinaNet R-50 (mmdet)': osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs',
                                           'retinanet', 'retinanet_r50_fpn_1x_coco.py'),
    }
    steppers = {f'{name} {"AMP" if amp else "fp32"}': train_steppers(config, data, amp)
                for amp in (False, True) for name, config in configs.items()}
    print_train_steps(f'RetinaNet train step, {batch} images of 1333x800 (10 boxes each)',
                      time_train_steps(steppers, args), batch)


def benchmark_semfpn(args, batch=4):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    gen = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for _ in range(batch):
        inputs.append(torch.randint(0, 256, (3, 512, 512), generator=gen, dtype=torch.uint8))
        sample = SegDataSample(metainfo=dict(img_shape=(512, 512), ori_shape=(512, 512)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 150, (1, 512, 512), generator=gen))
        samples.append(sample)
    data = dict(inputs=inputs, data_samples=samples)
    config = osp.join(ROOT, 'configs', 'semfpn_lsnet_t_ade20k.py')
    steppers = {f'Semantic FPN LSNet-T {"AMP" if amp else "fp32"}':
                train_steppers(config, data, amp) for amp in (False, True)}
    print_train_steps(f'Semantic FPN train step, {batch} crops of 512x512',
                      time_train_steps(steppers, args), batch)


def main(argv=None):
    args = parse_args(argv)
    set_up_tool_process()
    print(f'device: {torch.cuda.get_device_name()}, torch {torch.__version__}', flush=True)
    if 'ska' in args.parts:
        benchmark_ska()
    if 'backbone' in args.parts:
        benchmark_backbones(args)
    if 'retinanet' in args.parts:
        benchmark_retinanet(args)
    if 'semfpn' in args.parts:
        benchmark_semfpn(args)


if __name__ == '__main__':
    main()
