"""Time an end-to-end ONNX file (export_onnx.py --end2end) in ONNX Runtime and OpenVINO.

    python tools/analysis_tools/onnx_backends.py FILE.onnx [FILE.onnx ...] [--shape H W]
        [--iters 30] [--warmup 5] [--threads N]

Each file runs in ONNX Runtime (f32), OpenVINO f32 and, where the CPU has BF16 instructions,
OpenVINO bf16, in turns (one call of each per round, so that load on the machine weighs on all
alike), on the same random input. Prints the median latency of each and its ratio to ONNX
Runtime's, and how each runtime's outputs compare with ONNX Runtime's: the largest difference
of float outputs (boxes, scores), the share of equal values of integer ones (labels, label maps),
when their shapes agree.
"""
import argparse
import os.path as osp
import statistics
import time

import numpy as np

from lsnet_dense.analysis.end2end_speed import bf16_supported, end2end_feeds
from lsnet_dense.cli import exit_on_error
from lsnet_dense.deploy import read_sidecar
from lsnet_dense.deploy.backends import Session

RUNTIMES = [('ONNX Runtime f32', 'onnxruntime', 'f32'), ('OpenVINO f32', 'openvino', 'f32'),
            ('OpenVINO bf16', 'openvino', 'bf16')]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='ONNX Runtime vs OpenVINO latency')
    parser.add_argument('files', nargs='+', help='end-to-end .onnx files')
    parser.add_argument('--shape', type=int, nargs=2, default=(512, 512), metavar=('H', 'W'),
                        help='input size for dynamic files (static ones use their own)')
    parser.add_argument('--iters', type=int, default=30)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--threads', type=int, help='intra-op threads of every runtime')
    return parser.parse_args(argv)


def agreement(outputs, reference) -> str:
    """How ``outputs`` compare with ONNX Runtime's ``reference``, output by output."""
    parts = []
    for output, expected in zip(outputs, reference):
        if output.shape != expected.shape:
            parts.append(f'shape {output.shape} vs {expected.shape}')
        elif np.issubdtype(expected.dtype, np.integer):
            share = float((output == expected).mean()) if expected.size else 1.
            parts.append(f'{share:.2%} equal')
        else:
            parts.append(f'max diff {float(np.abs(output - expected).max(initial=0)):.2g}')
    return ', '.join(parts)


def time_file(path: str, args) -> list:
    """[(runtime name, median ms, agreement with ONNX Runtime)] for one file."""
    feeds = end2end_feeds(path, args.shape)
    runtimes = [r for r in RUNTIMES if r[2] == 'f32' or bf16_supported()]
    sessions = [Session(path, backend, precision, args.threads)
                for _, backend, precision in runtimes]
    outputs = [s.run(feeds) for s in sessions]
    times = [[] for _ in sessions]
    for round_ in range(args.warmup + args.iters):
        for session, record in zip(sessions, times):
            start = time.perf_counter()
            session.run(feeds)
            if round_ >= args.warmup:
                record.append(time.perf_counter() - start)
    rows = []
    for (name, _, _), record, output in zip(runtimes, times, outputs):
        rows.append((name, statistics.median(record) * 1000, agreement(output, outputs[0])))
    return rows


def main(argv=None):
    args = parse_args(argv)
    with exit_on_error():
        results = {path: time_file(path, args) for path in args.files}
    print(f'median of {args.iters} calls after {args.warmup}, runtimes in turns'
          + (f', {args.threads} threads' if args.threads else ''))
    for path, rows in results.items():
        names = ', '.join(read_sidecar(path)['outputs'][osp.basename(path)])
        print(f'{path} (outputs {names}):')
        reference = rows[0][1]
        for name, ms, agreed in rows:
            print(f'  {name:<17} {ms:7.1f} ms  speed-up vs ONNX Runtime {reference / ms:.2f}x'
                  f'  outputs vs ONNX Runtime: {agreed}')


if __name__ == '__main__':
    main()
