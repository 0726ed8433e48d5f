"""End-to-end latency of a detector / segmenter config beside the same model on other backbones.

Each model is exported with the project's end-to-end exporter (post-processing in the graph) and
run in ONNX Runtime and / or OpenVINO; :func:`lsnet_dense.analysis.speed.time_side_by_side`
then calls every (model, runtime) pair in turns.
"""
import os.path as osp
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmcv.cnn import fuse_conv_bn

from lsnet_dense.apis import build_model_from_config
from lsnet_dense.deploy import read_sidecar
from lsnet_dense.deploy.backends import Session, import_openvino
from lsnet_dense.deploy.end2end_check import End2EndMismatch, pytorch_detections
from lsnet_dense.deploy.export_end2end import export_end2end
from lsnet_dense.deploy.runtime import create_session
from lsnet_dense.errors import PreflightError

RUNTIME_NAMES = {'onnxruntime': 'ONNX Runtime', 'openvino': 'OpenVINO'}
# Random batches that set the BatchNorm statistics (see _calibrate).
CALIBRATION_BATCHES = 2
# Spread of the calibrated detectors' box deltas: a trained head's are small, while the
# uncalibrated ones reach exp(4) anchor sizes, boxes far outside the image whose float32
# rounding alone exceeds the export check's 1e-3 px.
DELTA_STD = 0.2


@dataclass(frozen=True)
class ComparedBackbone:
    """An mmdet backbone to put in a config's place: its arguments and output channels."""

    cls_name: str
    kwargs: dict
    channels: Tuple[int, ...]

    def cls(self) -> type:
        from mmdet.models import backbones
        return getattr(backbones, self.cls_name)

    def build(self) -> nn.Module:
        return self.cls()(**self.kwargs)


# Four levels at strides 4, 8, 16, 32 each.
COMPARED_BACKBONES = {
    'resnet18': ComparedBackbone('ResNet', dict(depth=18, out_indices=(0, 1, 2, 3)),
                                 (64, 128, 256, 512)),
    'mobilenetv2': ComparedBackbone('MobileNetV2', dict(out_indices=(1, 2, 4, 7)),
                                    (24, 32, 96, 1280)),
}


def _foldable(cls: type) -> type:
    """``cls`` with ``switch_to_deploy`` folding its Conv+BN pairs: the exporter folds every
    backbone as it folds LSNet, and refuses backbones without that method."""
    return type(cls.__name__, (cls,), {'switch_to_deploy': lambda self: fuse_conv_bn(self)})


def backbone_options(name: str) -> dict:
    """``--cfg-options`` putting the compared backbone ``name`` into an LSNet config.

    LSNet's four levels are at strides 8-64; the mmdet backbones' at 4-32. The neck starts at
    their second level (mmdet's RetinaNet R-18 does the same), so that the neck adds the missing
    coarse level and the head works on the strides of the LSNet model: the same detector or
    segmenter, only the backbone differs. (Keys are dotted: mmengine pops ``_delete_`` from
    nested option dicts in place, and the exporter merges the options twice.)
    """
    backbone = COMPARED_BACKBONES[name]
    return {'model.backbone': dict(_delete_=True, type=_foldable(backbone.cls()),
                                   **backbone.kwargs),
            'model.neck.in_channels': list(backbone.channels), 'model.neck.start_level': 1}


def _batch_norms(model: nn.Module) -> List[nn.Module]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def _calibrate(model: nn.Module, shape: Sequence[int], seed: int) -> str:
    """Give random weights the activations of a trained model, the same way for every backbone;
    returns what was done, for the output.

    With the initial BatchNorm statistics (mean 0, variance 1) some backbones' features vanish
    or blow up, and the detector's scores then tie (all ~0.5) or saturate (all ~1.0), so that
    NMS does backbone-dependent work and the export check fails on ties. So: BatchNorm
    statistics from random batches; a detector's classifier and box regressor then scaled so
    that their outputs have the same distribution for every backbone.
    """
    generator = torch.Generator().manual_seed(seed)
    batch_norms = _batch_norms(model)
    for norm in batch_norms:
        norm.reset_running_stats()
        norm.momentum = None  # the plain average over the batches
        norm.train()
    head = model.bbox_head if hasattr(model, 'bbox_head') else model.decode_head
    for _ in range(CALIBRATION_BATCHES):
        head(model.extract_feat(torch.randn(1, 3, *shape, generator=generator)))
    for norm in batch_norms:
        norm.eval()
    if not hasattr(model, 'bbox_head'):
        return 'BatchNorm statistics from random batches'
    outputs = head(model.extract_feat(torch.randn(1, 3, *shape, generator=generator)))
    for conv, maps, std in zip((head.retina_cls, head.retina_reg), outputs, (1., DELTA_STD)):
        values = torch.cat([m.flatten() for m in maps])
        scale = std / values.std()
        conv.weight.mul_(scale)
        conv.bias.sub_(values.mean()).mul_(scale)
    return (f'BatchNorm statistics from random batches, classifier logits scaled to N(0, 1), '
            f'box deltas to N(0, {DELTA_STD:g}^2)')


def _nms_work(model: nn.Module, shape: Sequence[int], seed: int) -> str:
    """What the detector's post-processing does on the benchmark input (mmdet's own code)."""
    cfg = model.bbox_head.test_cfg
    images = torch.from_numpy(benchmark_input(shape, seed))
    with torch.no_grad():
        scores, _ = model.bbox_head(model.extract_feat(images))
    candidates = sum(min(cfg.nms_pre, s.numel()) for s in scores)
    passing = sum(int((s.flatten().sigmoid().topk(min(cfg.nms_pre, s.numel())).values
                       > cfg.score_thr).sum()) for s in scores)
    max_per_img = cfg.max_per_img
    cfg.max_per_img = candidates  # every box NMS keeps, not only the first max_per_img
    try:
        kept = len(pytorch_detections(model, images, shape)['labels'])
    finally:
        cfg.max_per_img = max_per_img
    return (f'{passing} of {candidates} top-k candidates above score_thr {cfg.score_thr:g}, '
            f'{kept} kept by NMS, {min(kept, max_per_img)} returned')


def benchmark_input(shape: Sequence[int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((1, 3, *shape)).astype(np.float32)


def end2end_feeds(path: str, shape: Sequence[int], seed: int = 0) -> dict:
    """The inputs of an end-to-end file: a random image of ``shape`` (dynamic files) or of the
    file's own size (static ones), all of it valid, label maps at that size."""
    sidecar = read_sidecar(path)
    if not sidecar.get('end2end'):
        raise PreflightError(f'{path} is a raw file; this benchmark times end-to-end files '
                             '(export_onnx.py --end2end)')
    size = shape if sidecar['input'].get('dynamic') else sidecar['input']['shape'][2:]
    images = benchmark_input(size, seed)
    if sidecar['task'] == 'detection':
        return dict(images=images, image_size=np.array(size, np.float32))
    return dict(images=images, image_size=np.array(size, np.int64),
                output_size=np.array(size, np.int64))


def bf16_supported() -> bool:
    return 'BF16' in import_openvino().Core().get_property('CPU', 'OPTIMIZATION_CAPABILITIES')


def export_for_speed(config: str, path: str, shape: Sequence[int],
                     options: Optional[dict] = None, seed: int = 0) -> Dict[str, str]:
    """Export ``config`` (with ``options``) end-to-end at a static ``shape`` with calibrated
    random weights (:func:`_calibrate`); returns notes for the output: weights, the export
    check, and for detectors the post-processing work on the benchmark input."""
    torch.manual_seed(seed)
    model, _ = build_model_from_config(config, options)
    notes = {'weights': _calibrate(model, shape, seed)}
    if hasattr(model, 'bbox_head'):
        notes['post-processing'] = _nms_work(model, shape, seed)
    checkpoint = osp.splitext(path)[0] + '.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, checkpoint)
    try:
        report = export_end2end(config, checkpoint, path, shape, cfg_options=options, seed=seed)
        notes['export check'] = f'passed on {len(report.predictions)} example scenes'
    except End2EndMismatch as error:
        # Written before the check. The check's example scenes are unlike the calibration's
        # random input: random logits can saturate there (scores of exactly 1.0 that tie and
        # each runtime orders differently) or decode boxes that round past 1e-3 px. That
        # changes which boxes come out of those scenes, not the work timed: time it anyway.
        notes['export check'] = f'{error} (random weights); timed all the same'
    return notes


def runtime_label(backend: str, precision: str) -> str:
    return f'{RUNTIME_NAMES[backend]} {precision}'


def end2end_calls(files: Dict[str, str], runtimes: Sequence[Tuple[str, str]], shape,
                  threads: Optional[int] = None,
                  optimization: str = 'all') -> Dict[str, Callable[[], object]]:
    """``'MODEL, RUNTIME'`` -> one inference of that file in that runtime, runtime by runtime.

    Args:
        files: model label -> end-to-end ``.onnx``.
        runtimes: ``(backend, precision)`` pairs.
        threads: intra-op threads of every runtime.
        optimization: ONNX Runtime's graph optimisation level.
    """
    calls = {}
    for backend, precision in runtimes:
        for label, path in files.items():
            feeds = end2end_feeds(path, shape)
            if backend == 'onnxruntime':
                # The sessions take turns: without spinning, idle ones leave the cores to the
                # next (Session does not expose the option).
                session = create_session(path, threads, optimization, 'cpu', spinning=False)
                run = session.run
                call = lambda run=run, feeds=feeds: run(None, feeds)  # noqa: E731
            else:
                session = Session(path, backend, precision, threads)
                call = lambda session=session, feeds=feeds: session.run(feeds)  # noqa: E731
            calls[f'{label}, {runtime_label(backend, precision)}'] = call
    return calls
