"""Export LSNet detectors, segmenters and the bare backbone to ONNX with torch's own exporter.

The graph holds the dense network (backbone after deploy fusion, neck, heads) up to raw
outputs: class logits and box deltas per level (RetinaNet), features and RPN outputs (Mask
R-CNN, whose RoI box and mask heads are two more graphs), segmentation logits (Semantic FPN,
UperNet), or the four feature maps (backbone). Decoding, NMS and resizing run afterwards
through mmdet's / mmseg's own post-processing (:mod:`lsnet_dense.deploy.onnx_detector`,
:mod:`lsnet_dense.deploy.onnx_segmentor`).
"""
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from lsnet_dense.apis import build_model_from_config, deploy_model
from lsnet_dense.engine import TASK_OF_SCOPE, load_config, load_model_checkpoint
from lsnet_dense.errors import ExportMismatch, PreflightError
from lsnet_dense.models import LSNet
from .runtime import OnnxRunner
from .sidecar import config_classes, input_spec, write_sidecar

# Model type in the config -> how its network is cut into graphs.
SUPPORTED_MODELS = {'RetinaNet': 'single_stage', 'MaskRCNN': 'two_stage',
                    'EncoderDecoder': 'segmentor'}
# An export is refused when ONNX Runtime differs from PyTorch by more than this, relative to the
# magnitude of each output.
TOLERANCE = 1e-4
# RoIs in the example input of the RoI-head graphs (any count works at run time).
EXAMPLE_ROIS = 3
# torch.export fixes dimensions of size 1 in the example, so a dynamic export is traced on 2
# images at least this large: every level down to stride 64 is then at least 2x2.
MIN_DYNAMIC_EXAMPLE = 128


def supported_text() -> str:
    return ('RetinaNet and Mask R-CNN (mmdet), Semantic FPN and UperNet (mmseg '
            'EncoderDecoder), or the bare backbone with --backbone')


class SingleStageNetwork(nn.Module):
    """images (B, 3, H, W) -> cls_score_i (B, A*C, H_i, W_i)..., bbox_pred_i (B, A*4, H_i, W_i)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.num_levels = len(model.bbox_head.prior_generator.strides)

    def output_names(self) -> List[str]:
        return ([f'cls_score_{i}' for i in range(self.num_levels)]
                + [f'bbox_pred_{i}' for i in range(self.num_levels)])

    def forward(self, images: Tensor) -> Tuple[Tensor, ...]:
        cls_scores, bbox_preds = self.model.bbox_head(self.model.extract_feat(images))
        return (*cls_scores, *bbox_preds)


class TwoStageNetwork(nn.Module):
    """images -> feat_i (B, C, H_i, W_i)..., rpn_cls_score_i..., rpn_bbox_pred_i... (RPN raw)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.num_levels = len(model.rpn_head.prior_generator.strides)

    def output_names(self) -> List[str]:
        return [f'{name}_{i}' for name in ('feat', 'rpn_cls_score', 'rpn_bbox_pred')
                for i in range(self.num_levels)]

    def forward(self, images: Tensor) -> Tuple[Tensor, ...]:
        features = self.model.extract_feat(images)
        cls_scores, bbox_preds = self.model.rpn_head(features)
        return (*features, *cls_scores, *bbox_preds)


class SegmentorNetwork(nn.Module):
    """images (B, 3, H, W) -> seg_logits (B, classes, H / s, W / s) of the decode head."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def output_names(self) -> List[str]:
        return ['seg_logits']

    def forward(self, images: Tensor) -> Tensor:
        return self.model.decode_head(self.model.extract_feat(images))


class BackboneNetwork(nn.Module):
    """images (B, 3, H, W) -> feat_i (B, C_i, H / 2**(i+3), W / 2**(i+3)), i = 0..3."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone

    def output_names(self) -> List[str]:
        return [f'feat_{i}' for i in range(len(self.backbone.out_indices))]

    def forward(self, images: Tensor) -> Tuple[Tensor, ...]:
        return tuple(self.backbone(images))


class RoIHeadNetwork(nn.Module):
    """A Mask R-CNN RoI head: pooled RoI features (N, C, S, S) -> its raw outputs."""

    def __init__(self, head: nn.Module, names: Sequence[str]):
        super().__init__()
        self.head = head
        self.names = list(names)

    def output_names(self) -> List[str]:
        return self.names

    def forward(self, roi_features: Tensor):
        return self.head(roi_features)


@dataclass
class ExportReport:
    """What an export wrote and how ONNX Runtime compared with PyTorch.

    Attributes:
        files: the ``.onnx`` files and the sidecar JSON.
        differences: graph file -> output name -> largest |ORT - PyTorch| / max |PyTorch|.
        predictions: end-to-end files only: example -> figure -> value (see
            :mod:`lsnet_dense.deploy.end2end_check`).
    """

    files: List[str] = field(default_factory=list)
    differences: Dict[str, Dict[str, float]] = field(default_factory=dict)
    predictions: Dict[str, Dict[str, float]] = field(default_factory=dict)

    @property
    def worst(self) -> float:
        return max((d for per_file in self.differences.values() for d in per_file.values()),
                   default=0.)


def relative_difference(actual: Tensor, expected: Tensor) -> float:
    """max |actual - expected| / max |expected| (0 for two empty or all-zero tensors)."""
    if actual.shape != expected.shape:
        raise AssertionError(f'ONNX Runtime output shape {tuple(actual.shape)} differs from '
                             f'PyTorch\'s {tuple(expected.shape)}')
    if expected.numel() == 0:
        return 0.
    scale = expected.abs().max().item()
    error = (actual.float() - expected.float()).abs().max().item()
    return error / scale if scale > 0 else error


def example_images(shape: Sequence[int], dynamic: bool, seed: int = 0) -> Tensor:
    """Random images to trace and check with: one of ``shape``, or two for a dynamic export."""
    if dynamic and min(shape) < MIN_DYNAMIC_EXAMPLE:
        raise PreflightError(f'a dynamic export is traced at --shape {shape[0]} {shape[1]}, '
                             f'below {MIN_DYNAMIC_EXAMPLE}x{MIN_DYNAMIC_EXAMPLE}: the stride-64 '
                             'maps would be 1x1, and torch.export fixes dimensions of size 1. '
                             f'Give --shape {MIN_DYNAMIC_EXAMPLE} {MIN_DYNAMIC_EXAMPLE} or more')
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(2 if dynamic else 1, 3, *shape, generator=generator)


def export_graph(network: nn.Module, example: Tensor, path: str, dynamic: bool,
                 input_name: str = 'images', dynamic_batch_only: bool = False):
    """``torch.onnx.export`` (dynamo path, onnxscript) of ``network`` into one ``.onnx`` file.

    Args:
        network: a module with ``output_names()`` mapping one tensor to a tensor or tuple.
        example: the example input (its size is the file's size unless ``dynamic``).
        dynamic: batch, height and width dynamic.
        dynamic_batch_only: only the first dimension dynamic (RoI heads).
    """
    if dynamic_batch_only:
        dims = {0: torch.export.Dim('rois')}
    elif dynamic:
        dims = {0: torch.export.Dim('batch'), 2: torch.export.Dim('height', min=32),
                3: torch.export.Dim('width', min=32)}
    else:
        dims = None
    network.eval()
    with torch.no_grad():
        program = torch.onnx.export(
            network, (example,), dynamo=True, input_names=[input_name],
            output_names=network.output_names(),
            dynamic_shapes=({input_name: dims} if dims else None), verbose=False)
    program.save(path, external_data=False)


def compare(network: nn.Module, path: str, example: Tensor) -> Dict[str, float]:
    """Relative difference of every output of ``path`` in ONNX Runtime (CPU) to PyTorch's."""
    with torch.no_grad():
        expected = network(example)
    expected = list(expected) if isinstance(expected, (tuple, list)) else [expected]
    actual = OnnxRunner(path, device='cpu')(example)
    return {name: relative_difference(a, e)
            for name, a, e in zip(network.output_names(), actual, expected)}


def load_model(config: str, checkpoint: Optional[str], cfg_options: Optional[dict] = None):
    """The config's model in eval mode with the checkpoint loaded strictly, backbone folded.

    Returns:
        ``(model, cfg, classes_of_the_checkpoint_or_None)``.
    """
    model_type = load_config(config, cfg_options).model.get('type')
    if model_type not in SUPPORTED_MODELS:
        raise PreflightError(f'{config}: the exporter does not support model type '
                             f'{model_type!r}; it supports {supported_text()}')
    model, cfg = build_model_from_config(config, cfg_options)
    classes = None
    if checkpoint is not None:
        meta = load_model_checkpoint(model, checkpoint).get('meta') or {}
        classes = meta.get('dataset_meta', {}).get('classes')
    return deploy_model(model).eval(), cfg, classes


def _shape_generic_upsampling(model: nn.Module):
    """Swap mmseg's ``Upsample`` (FPNHead's scale heads) for ``nn.Upsample``, the same operation.

    mmseg's computes its output size with ``int()``, which torch.export fixes to the traced size:
    a dynamic export would silently keep that size. ``nn.Upsample`` with the same scale factor
    maps coordinates identically (scale 2: source = (target + 0.5) / 2 - 0.5 either way).
    """
    from mmseg.models.utils import Upsample
    for name, module in list(model.named_modules()):
        if isinstance(module, Upsample) and not module.size and module.scale_factor:
            parent, _, child = name.rpartition('.')
            setattr(model.get_submodule(parent), child,
                    nn.Upsample(scale_factor=module.scale_factor, mode=module.mode,
                                align_corners=module.align_corners))


def _networks(model: nn.Module, kind: str, path: str, example: Tensor, dynamic: bool):
    """(network, graph path, example input, graph options) for each graph of the model."""
    stem = osp.splitext(path)[0]
    if kind == 'single_stage':
        return [(SingleStageNetwork(model), path, example, dict(dynamic=dynamic))]
    if kind == 'segmentor':
        _shape_generic_upsampling(model)
        return [(SegmentorNetwork(model), path, example, dict(dynamic=dynamic))]
    roi_head = model.roi_head
    if roi_head.with_shared_head or not (roi_head.with_bbox and roi_head.with_mask):
        raise PreflightError('the exporter supports Mask R-CNN RoI heads with box and mask '
                             'heads and no shared head')
    graphs = [(TwoStageNetwork(model), path, example, dict(dynamic=dynamic))]
    for name, head, extractor, outputs in (
            ('bbox', roi_head.bbox_head, roi_head.bbox_roi_extractor, ['cls_score', 'bbox_pred']),
            ('mask', roi_head.mask_head, roi_head.mask_roi_extractor, ['mask_preds'])):
        size = extractor.roi_layers[0].output_size
        size = size if isinstance(size, (tuple, list)) else (size, size)
        roi_example = torch.randn(EXAMPLE_ROIS, extractor.out_channels, *size)
        graphs.append((RoIHeadNetwork(head, outputs), f'{stem}.roi_{name}.onnx', roi_example,
                       dict(dynamic=False, input_name='roi_features', dynamic_batch_only=True)))
    return graphs


def _verify(graphs, report: ExportReport, tolerance: float):
    for network, graph_path, example, options in graphs:
        report.differences[graph_path] = compare(network, graph_path, example)
        if options.get('dynamic'):
            # A size other than the traced one: catches sizes that tracing fixed silently.
            other = torch.randn(1, 3, example.shape[2] + 40, example.shape[3] - 24,
                                generator=torch.Generator().manual_seed(1))
            for name, value in compare(network, graph_path, other).items():
                report.differences[graph_path][f'{name} ({other.shape[2]}x{other.shape[3]})'] \
                    = value
    if report.worst > tolerance:
        raise ExportMismatch(report, tolerance)


def export_model(config: str, checkpoint: Optional[str], out: str,
                 shape: Sequence[int] = (512, 512), dynamic: bool = False,
                 cfg_options: Optional[dict] = None, tolerance: float = TOLERANCE,
                 seed: int = 0) -> ExportReport:
    """Export a detector / segmenter config's network (see the module docstring).

    Args:
        config: the mmdet / mmseg config.
        checkpoint: its trained weights (``None``: the config's initialisation, for trials).
        out: the ``.onnx`` path (Mask R-CNN also writes ``.roi_bbox.onnx``, ``.roi_mask.onnx``).
        shape: (H, W) of the example input, the file's input size unless ``dynamic``.
        dynamic: batch, height and width dynamic.
        tolerance: largest relative ORT-vs-PyTorch difference accepted.

    Raises:
        PreflightError: unsupported model, unreadable or mismatching checkpoint.
        ExportMismatch: ONNX Runtime differs from PyTorch by more than ``tolerance``.
    """
    model, cfg, classes = load_model(config, checkpoint, cfg_options)
    kind = SUPPORTED_MODELS[cfg.model.type]
    example = example_images(shape, dynamic, seed)
    graphs = _networks(model, kind, out, example, dynamic)
    report = ExportReport()
    for network, graph_path, graph_example, options in graphs:
        export_graph(network, graph_example, graph_path, **options)
        report.files.append(graph_path)
    head = model.decode_head if kind == 'segmentor' else (
        model.bbox_head if kind == 'single_stage' else model.roi_head.bbox_head)
    classes = classes or config_classes(cfg)
    report.files.append(write_sidecar(
        out, task=TASK_OF_SCOPE[cfg.default_scope], model=cfg.model.type, config=config,
        checkpoint=checkpoint, input=input_spec(cfg, shape, dynamic),
        num_classes=head.num_classes, classes=classes,
        outputs={osp.basename(p): n.output_names() for n, p, _, _ in graphs},
        extra_graphs=[osp.basename(p) for _, p, _, _ in graphs[1:]],
        decode=_decode_description(cfg, kind)))
    _verify(graphs, report, tolerance)
    return report


def _decode_description(cfg, kind: str) -> dict:
    """How the outputs become predictions: the post-processing call and its settings."""
    if kind == 'segmentor':
        return dict(postprocess='mmseg: decode_head.predict_by_feat (bilinear resize to the '
                    'input size), then EncoderDecoder.postprocess_result (argmax)',
                    test_cfg=cfg.model.get('test_cfg'),
                    align_corners=cfg.model.decode_head.get('align_corners', False))
    if kind == 'single_stage':
        head = cfg.model.bbox_head
        return dict(postprocess=f'mmdet: {head.type}.predict_by_feat (sigmoid scores, anchors, '
                    'box decoding, NMS)',
                    anchor_generator=head.get('anchor_generator'),
                    bbox_coder=head.get('bbox_coder'), test_cfg=cfg.model.get('test_cfg'))
    return dict(postprocess='mmdet: rpn_head.predict_by_feat on rpn_* outputs (proposals), '
                'RoIAlign (mmcv) on the feat_* outputs, the roi_bbox graph, '
                'bbox_head.predict_by_feat, RoIAlign, the roi_mask graph, '
                'mask_head.predict_by_feat',
                rpn_anchor_generator=cfg.model.rpn_head.get('anchor_generator'),
                bbox_roi_extractor=cfg.model.roi_head.get('bbox_roi_extractor'),
                mask_roi_extractor=cfg.model.roi_head.get('mask_roi_extractor'),
                test_cfg=cfg.model.get('test_cfg'))


def build_backbone(arch: str, checkpoint: Optional[str] = None) -> nn.Module:
    """An LSNet backbone in eval mode, loaded as ``init_cfg=dict(type='Pretrained')`` would."""
    init_cfg = dict(type='Pretrained', checkpoint=checkpoint) if checkpoint else None
    backbone = LSNet(arch, init_cfg=init_cfg)
    if checkpoint:
        if not osp.isfile(checkpoint):
            raise PreflightError(f'checkpoint: Checkpoint file not found: {checkpoint}')
        try:
            backbone.init_weights()
        except (ValueError, RuntimeError) as error:
            raise PreflightError(f'{checkpoint} does not fit LSNet-{arch.upper()}: '
                                 f'{error}') from None
    return backbone.eval()


def export_backbone(arch: str, out: str, shape: Sequence[int] = (512, 512),
                    checkpoint: Optional[str] = None, dynamic: bool = False,
                    tolerance: float = TOLERANCE, seed: int = 0) -> ExportReport:
    """Export the bare LSNet backbone (after deploy fusion); its four feature maps are outputs."""
    backbone = build_backbone(arch, checkpoint)
    backbone.switch_to_deploy()
    network = BackboneNetwork(backbone)
    example = example_images(shape, dynamic, seed)
    export_graph(network, example, out, dynamic)
    report = ExportReport(files=[out])
    report.files.append(write_sidecar(
        out, task='backbone', model=f'LSNet-{arch.upper()}', checkpoint=checkpoint,
        input=input_spec(None, shape, dynamic), outputs={osp.basename(out): network.output_names()},
        strides=[8, 16, 32, 64], channels=list(backbone.embed_dims), extra_graphs=[]))
    _verify([(network, out, example, dict(dynamic=dynamic))], report, tolerance)
    return report
