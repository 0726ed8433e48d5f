"""``--end2end`` export: one ONNX file per model, the post-processing inside
(:mod:`lsnet_dense.deploy.end2end`), checked against mmdet's / mmseg's PyTorch prediction
(:mod:`lsnet_dense.deploy.end2end_check`)."""
import os.path as osp
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor

from lsnet_dense.engine import TASK_OF_SCOPE
from lsnet_dense.errors import PreflightError
from .backends import Session
from .end2end import RetinaNetEnd2End, SegmentorEnd2End
from .end2end_check import (End2EndMismatch, compare_detections, compare_instances,
                            compare_label_maps, example_scene, problems_of, pytorch_detections,
                            pytorch_instances, pytorch_label_map)
from .end2end_mask_rcnn import MaskRCNNEnd2End
from .export import (MIN_DYNAMIC_EXAMPLE, SUPPORTED_MODELS, ExportReport,
                     _shape_generic_upsampling, load_model)
from .sidecar import config_classes, input_spec, resize_spec, write_sidecar

# Valid area of the second check's input: smaller than the input, as when a batch is padded, so
# that clipping to (detector) or cropping at (segmenter) ``image_size`` is checked too.
PADDED_BY = (7, 3)
# The segmenter's second check resizes to an original size this much larger (an image the
# pipeline shrank).
ENLARGED_BY = (20, 30)


def _network(model, kind: str):
    """(network, smallest traced side of a dynamic export)."""
    if kind in ('single_stage', 'two_stage'):
        head = model.bbox_head if kind == 'single_stage' else model.rpn_head
        network = RetinaNetEnd2End(model) if kind == 'single_stage' else MaskRCNNEnd2End(model)
        # torch.export fixes dimensions of size 1: the coarsest level must be at least 2x2.
        return network, 2 * max(max(s) for s in head.prior_generator.strides)
    _shape_generic_upsampling(model)
    return SegmentorEnd2End(model), MIN_DYNAMIC_EXAMPLE


def _inputs(network, images: Tensor, valid: Sequence[int],
            output: Sequence[int]) -> Tuple[Tensor, ...]:
    """The graph's inputs: detector (images, image_size float32), segmenter (images,
    image_size int64, output_size int64)."""
    if not isinstance(network, SegmentorEnd2End):
        return images, torch.tensor([float(v) for v in valid])
    return images, torch.tensor(list(valid)), torch.tensor(list(output))


def _export(network, inputs: Tuple[Tensor, ...], path: str, dynamic: bool):
    """``torch.onnx.export`` (dynamo) with height and width dynamic; the batch is 1."""
    dims = None
    if dynamic:
        dims = {'images': {2: torch.export.Dim('height', min=32),
                           3: torch.export.Dim('width', min=32)}}
        dims.update({name: None for name in network.input_names()[1:]})
    network.eval()
    with torch.no_grad():
        program = torch.onnx.export(network, inputs, dynamo=True,
                                    input_names=network.input_names(),
                                    output_names=network.output_names(),
                                    dynamic_shapes=dims, verbose=False)
    program.save(path, external_data=False)


def _check(network, path: str, examples, report: ExportReport):
    session = Session(path)
    problems = []
    for images, valid, output in examples:
        feeds = dict(zip(network.input_names(),
                         (t.numpy() for t in _inputs(network, images, valid, output))))
        actual = session.run(feeds)
        height, width = images.shape[2:]
        name = f'{osp.basename(path)} at {height}x{width} (valid {valid[0]}x{valid[1]}'
        if isinstance(network, RetinaNetEnd2End):
            figures = compare_detections(actual, pytorch_detections(network.model, images,
                                                                    valid))
        elif isinstance(network, MaskRCNNEnd2End):
            figures = compare_instances(actual, pytorch_instances(network.model, images, valid),
                                        network.settings['rcnn']['mask_thr_binary'])
        else:
            figures = compare_label_maps(actual[0], pytorch_label_map(network.model, images,
                                                                      valid, output))
            name += f', output {output[0]}x{output[1]}'
        report.predictions[name + ')'] = figures
        problems += problems_of(figures)
    if problems:
        raise End2EndMismatch(report, problems)


def export_end2end(config: str, checkpoint: Optional[str], out: str,
                   shape: Sequence[int] = (512, 512), dynamic: bool = False,
                   cfg_options: Optional[dict] = None, seed: int = 0) -> ExportReport:
    """Export a RetinaNet / Mask R-CNN / Semantic FPN / UperNet config as one end-to-end graph.

    Args:
        config, checkpoint, cfg_options: as for :func:`lsnet_dense.deploy.export_model`.
        out: the ``.onnx`` path; ``FILE.json`` beside it describes the pre-processing.
        shape: (H, W) of the input (with ``dynamic``: of the traced example).
        dynamic: any height and width (the batch is 1).

    Raises:
        PreflightError: a model, test setting or pipeline step the graph cannot follow.
        End2EndMismatch: the file's predictions differ from PyTorch's beyond the limits.
    """
    model, cfg, classes = load_model(config, checkpoint, cfg_options)
    kind = SUPPORTED_MODELS[cfg.model.type]
    network, smallest = _network(model, kind)
    if dynamic and min(shape) < smallest:
        raise PreflightError(f'a dynamic --end2end export of this model is traced at --shape '
                             f'{shape[0]} {shape[1]}, below {smallest}x{smallest}: its coarsest '
                             'maps would be 1x1, and torch.export fixes dimensions of size 1. '
                             f'Give --shape {smallest} {smallest} or more')
    preprocess = resize_spec(cfg)
    example = example_scene(model, shape, seed)
    _export(network, _inputs(network, example, shape, shape), out, dynamic)
    head = dict(segmentor=lambda: model.decode_head, single_stage=lambda: model.bbox_head,
                two_stage=lambda: model.roi_head.bbox_head)[kind]()
    report = ExportReport(files=[out])
    report.files.append(write_sidecar(
        out, task=TASK_OF_SCOPE[cfg.default_scope], model=cfg.model.type, config=config,
        checkpoint=checkpoint, end2end=True, input=input_spec(cfg, shape, dynamic),
        inputs=network.input_names(), preprocess=preprocess, num_classes=head.num_classes,
        classes=classes or config_classes(cfg),
        outputs={osp.basename(out): network.output_names()}, extra_graphs=[],
        decode=_decode_description(cfg, kind)))
    if dynamic:
        other = (shape[0] + 40, shape[1] - 24)
        second = example_scene(model, other, seed + 1)
    else:
        other, second = shape, example_scene(model, shape, seed + 1)
    valid = [s - p for s, p in zip(other, PADDED_BY)]
    output = [s + e for s, e in zip(valid, ENLARGED_BY)]
    _check(network, out, [(example, list(shape), list(shape)), (second, valid, output)], report)
    return report


def _decode_description(cfg, kind: str) -> dict:
    if kind == 'single_stage':
        return dict(in_graph=True,
                    postprocess='boxes are in pixels of the input; multiply x by '
                    '1 / scale_x and y by 1 / scale_y of the resize to get original-image '
                    'pixels. image_size = (h, w) of the resized image inside the padded '
                    'input: boxes are clipped to it',
                    test_cfg=cfg.model.get('test_cfg'))
    if kind == 'two_stage':
        return dict(in_graph=True,
                    postprocess='boxes are in pixels of the input; divide x by scale_x and y '
                    'by scale_y of the resize to get original-image pixels (as mmdet\'s mask '
                    'head does). image_size = (h, w) of the resized image inside the padded '
                    'input: boxes are clipped to it. masks (N, M, M) are the probabilities of '
                    'each detection\'s class on an M x M grid spanning its box: paste each into '
                    'the original image with its rescaled box (bilinear, pixel centres, as '
                    'mmdet\'s _do_paste_mask) and keep pixels >= mask_thr_binary',
                    mask_thr_binary=cfg.model.test_cfg.rcnn.get('mask_thr_binary', 0.5),
                    test_cfg=cfg.model.get('test_cfg'))
    return dict(in_graph=True,
                postprocess='none: seg_map is the label map at output_size (give the original '
                'image size); image_size = (h, w) of the resized image inside the padded input',
                align_corners=cfg.model.decode_head.get('align_corners', False))
