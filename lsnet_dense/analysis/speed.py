"""Inference latency of several models measured side by side.

The models run in turns (one call of each per round), so that load from other processes and
frequency changes affect all of them alike and their ratio stays meaningful on a busy machine.
"""
import os.path as osp
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import fuse_conv_bn

from lsnet_dense.deploy.export import BackboneNetwork, export_graph
from lsnet_dense.deploy.runtime import create_session


@dataclass
class Timing:
    """Latencies of one model.

    Attributes:
        name: the model's label.
        batch: images per call.
        latencies: seconds per call, one per timed round.
    """

    name: str
    batch: int
    latencies: List[float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies) * 1e3

    @property
    def best_ms(self) -> float:
        """The fastest run: what the model costs when nothing else competes for the CPU."""
        return min(self.latencies) * 1e3

    @property
    def spread_ms(self) -> float:
        """Half the distance between the first and third quartiles, in ms."""
        first, _, third = statistics.quantiles(self.latencies, n=4)
        return (third - first) / 2 * 1e3

    @property
    def images_per_second(self) -> float:
        return self.batch / statistics.median(self.latencies)


def prepare_for_inference(model: nn.Module, deploy: bool = False, channels_last: bool = False,
                          compile: bool = False) -> Callable:
    """Eval mode plus the requested inference optimisations; returns what to call.

    Args:
        model: the module.
        deploy: fold it for inference: ``switch_to_deploy()`` where the model has one (LSNet),
            otherwise every Conv+BN pair (mmcv's ``fuse_conv_bn``), so that other backbones
            get the same treatment.
        channels_last: store weights in NHWC (feed NHWC inputs too).
        compile: wrap it with ``torch.compile``.
    """
    model.eval()
    if deploy:
        if hasattr(model, 'switch_to_deploy'):
            model.switch_to_deploy()
        else:
            model = fuse_conv_bn(model)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return torch.compile(model) if compile else model


def time_side_by_side(calls: Dict[str, Callable[[], object]], batch: int, warmup: int,
                      iters: int, device: str = 'cpu') -> List[Timing]:
    """Time each call ``iters`` times, in turns, after ``warmup`` untimed rounds.

    Args:
        calls: label -> a function running one inference (its inputs bound in).
        batch: images per call, for images/s.
        warmup: untimed rounds first (allocator, oneDNN / cuDNN kernel selection, compile).
        iters: timed rounds.
        device: ``'cuda...'`` synchronises around every call.
    """
    if iters < 2:
        raise ValueError(f'need at least 2 timed iterations for a median and spread, got {iters}')
    synchronize = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)
    latencies = {name: [] for name in calls}
    with torch.inference_mode():
        for round_index in range(warmup + iters):
            for name, call in calls.items():
                synchronize()
                start = time.perf_counter()
                call()
                synchronize()
                if round_index >= warmup:
                    latencies[name].append(time.perf_counter() - start)
    return [Timing(name, batch, values) for name, values in latencies.items()]


def onnxruntime_calls(models: Dict[str, nn.Module], shape: Sequence[int], folder: str,
                      threads: Optional[int] = None, optimization: str = 'all',
                      deploy: bool = False, device: str = 'cpu') -> Dict[str, Callable]:
    """Export every backbone with torch's ONNX exporter and return ONNX Runtime calls.

    Args:
        models: label -> backbone (a module mapping images to a tuple of feature maps).
        shape: the static input size ``(B, 3, H, W)`` of the exported files.
        folder: where the ``.onnx`` files go.
        threads, optimization: ONNX Runtime session options, the same for every model.
        deploy: fold Conv+BN of models without ``switch_to_deploy`` before exporting (ONNX
            Runtime folds them itself too). Models with ``switch_to_deploy`` (LSNet) are
            always folded, as ``tools/deployment/export_onnx.py`` exports them.
        device: ``'cpu'``, or ``'cuda'`` for ONNX Runtime's CUDA provider.
    """
    images = torch.randn(*shape)
    calls = {}
    for index, (label, model) in enumerate(models.items()):
        model = prepare_for_inference(model, deploy=deploy or hasattr(model, 'switch_to_deploy'))
        path = osp.join(folder, f'model{index}.onnx')
        export_graph(BackboneNetwork(model), images, path, dynamic=False)
        # The sessions take turns: without spinning, idle ones leave the cores to the next.
        session = create_session(path, threads, optimization,
                                 'cpu' if device == 'cpu' else 'cuda', spinning=False)
        feed = {session.get_inputs()[0].name: images.numpy()}
        calls[label] = lambda session=session, feed=feed: session.run(None, feed)
    return calls
