"""The check of an end-to-end file against PyTorch: mmdet's / mmseg's own post-processing on the
PyTorch network's outputs, compared with what the file returns in ONNX Runtime.

Limits (issue 22): labels identical, boxes within 1e-3 px, scores within 1e-4, label maps and
instance masks equal on at least 99.9% of the pixels. Detections are compared in order (both are
sorted by score); masks as mmdet pastes them, over all pixels of the N masks at the image size.
"""
from typing import Dict

import numpy as np
import torch
import torch.nn as nn
from torch import Tensor

from lsnet_dense.errors import ExportMismatch

BOX_PX = 1e-3
SCORE = 1e-4
PIXEL_AGREEMENT = 0.999


class End2EndMismatch(ExportMismatch):
    """The end-to-end file's predictions differ from PyTorch's beyond the limits."""

    def __init__(self, report, problems):
        # Not ExportMismatch's message, which speaks of relative differences of raw outputs.
        Exception.__init__(self, 'the end-to-end file differs from PyTorch: '
                           + '; '.join(problems))
        self.report = report


@torch.no_grad()
def pytorch_detections(model: nn.Module, images: Tensor, image_size) -> Dict[str, np.ndarray]:
    """mmdet's RetinaNet prediction on (1, 3, H, W), boxes in pixels of ``images``."""
    outputs = model.bbox_head(model.extract_feat(images))
    meta = dict(img_shape=tuple(int(s) for s in image_size), scale_factor=(1., 1.))
    result = model.bbox_head.predict_by_feat(*outputs, batch_img_metas=[meta],
                                             rescale=False)[0]
    return dict(boxes=result.bboxes.numpy(), scores=result.scores.numpy(),
                labels=result.labels.numpy())


@torch.no_grad()
def pytorch_label_map(model: nn.Module, images: Tensor, image_size,
                      output_size) -> np.ndarray:
    """mmseg's label map (1, *output_size) of (1, 3, H, W) padded (bottom, right) from
    ``image_size``: ``decode_head.predict_by_feat``, then ``postprocess_result``."""
    from mmseg.structures import SegDataSample
    height, width = images.shape[2:]
    sample = SegDataSample(metainfo=dict(
        img_shape=tuple(image_size), pad_shape=(height, width), ori_shape=tuple(output_size),
        padding_size=[0, width - image_size[1], 0, height - image_size[0]]))
    logits = model.decode_head.predict_by_feat(model.decode_head(model.extract_feat(images)),
                                               [sample.metainfo])
    return model.postprocess_result(logits, [sample])[0].pred_sem_seg.data.numpy()


@torch.no_grad()
def pytorch_instances(model: nn.Module, images: Tensor, image_size) -> Dict[str, np.ndarray]:
    """mmdet's Mask R-CNN prediction on (1, 3, H, W): boxes in pixels of ``images``, masks
    (N, h, w) bool at ``image_size`` (the RPN, then ``StandardRoIHead.predict``), and the mask
    head's (N, M, M) probabilities of each detection's class on mmcv's RoIAlign."""
    from mmdet.structures import DetDataSample
    from mmdet.structures.bbox import bbox2roi
    size = tuple(int(s) for s in image_size)
    sample = DetDataSample(metainfo=dict(img_shape=size, ori_shape=size, scale_factor=(1., 1.),
                                         pad_shape=tuple(images.shape[2:])))
    features = model.extract_feat(images)
    proposals = model.rpn_head.predict(features, [sample], rescale=False)
    result = model.roi_head.predict(features, proposals, [sample], rescale=False)[0]
    logits = model.roi_head._mask_forward(features, bbox2roi([result.bboxes]))['mask_preds']
    if not model.roi_head.mask_head.class_agnostic:
        logits = logits[torch.arange(len(logits)), result.labels]
    else:
        logits = logits[:, 0]
    return dict(boxes=result.bboxes.numpy(), scores=result.scores.numpy(),
                labels=result.labels.numpy(), masks=result.masks.numpy(),
                mask_probabilities=logits.sigmoid().numpy())


def paste_masks(probabilities: Tensor, boxes: Tensor, height: int, width: int,
                threshold: float) -> Tensor:
    """(N, M, M) mask probabilities and (N, 4) boxes -> (N, height, width) bool, as
    ``FCNMaskHead._predict_by_feat_single`` on the CPU: mmdet's ``_do_paste_mask`` one mask at a
    time (only the box's surroundings are resampled), then ``>= threshold``."""
    from mmdet.models.roi_heads.mask_heads.fcn_mask_head import _do_paste_mask
    masks = torch.zeros(len(boxes), height, width, dtype=torch.bool)
    for i in range(len(boxes)):
        pasted, region = _do_paste_mask(probabilities[i:i + 1, None], boxes[i:i + 1], height,
                                        width, skip_empty=True)
        masks[(slice(i, i + 1),) + region] = pasted >= threshold
    return masks


def compare_instances(actual, expected: Dict[str, np.ndarray],
                      threshold: float) -> Dict[str, float]:
    """:func:`compare_detections` and, where the detections match one to one, the masks: the
    file's probabilities against mmdet's, and the file's pasted as mmdet pastes them."""
    boxes, scores, labels, probabilities = actual
    figures = compare_detections((boxes, scores, labels), expected)
    if len(labels) == len(expected['labels']):
        figures['mask probabilities max |diff|'] = float(np.abs(
            probabilities - expected['mask_probabilities']).max(initial=0))
        height, width = expected['masks'].shape[1:]
        pasted = paste_masks(torch.from_numpy(probabilities), torch.from_numpy(boxes), height,
                             width, threshold).numpy()
        figures['mask pixels equal'] = float((pasted == expected['masks']).mean()) if len(
            labels) else 1.
    return figures


def compare_detections(actual, expected: Dict[str, np.ndarray]) -> Dict[str, float]:
    """Figures of one image; ``actual`` is the file's (boxes, scores, labels)."""
    boxes, scores, labels = actual
    figures = {'detections': float(len(expected['labels'])),
               'detections in the file': float(len(labels))}
    if len(labels) == len(expected['labels']):
        figures['labels differing'] = float((labels != expected['labels']).sum())
        figures['boxes max |diff| px'] = float(np.abs(boxes - expected['boxes']).max(
            initial=0))
        figures['scores max |diff|'] = float(np.abs(scores - expected['scores']).max(
            initial=0))
    return figures


def compare_label_maps(actual: np.ndarray, expected: np.ndarray) -> Dict[str, float]:
    return {'pixels equal': float((actual == expected).mean())}


def problems_of(figures: Dict[str, float]) -> list:
    """What exceeds the limits, as readable phrases (none: the file passes)."""
    if 'pixels equal' in figures:
        share = figures['pixels equal']
        return [] if share >= PIXEL_AGREEMENT else [
            f'label maps agree on {share:.4%} of the pixels (at least {PIXEL_AGREEMENT:.1%})']
    if figures['detections'] != figures['detections in the file']:
        return [f'{figures["detections in the file"]:.0f} detections instead of PyTorch\'s '
                f'{figures["detections"]:.0f}']
    problems = []
    if figures.get('mask pixels equal', 1.) < PIXEL_AGREEMENT:
        problems.append(f'masks agree on {figures["mask pixels equal"]:.4%} of the pixels (at '
                        f'least {PIXEL_AGREEMENT:.1%})')
    if figures['labels differing']:
        problems.append(f'{figures["labels differing"]:.0f} labels differ')
    if figures['boxes max |diff| px'] > BOX_PX:
        problems.append(f'boxes differ by {figures["boxes max |diff| px"]:.3g} px '
                        f'(limit {BOX_PX:g})')
    if figures['scores max |diff|'] > SCORE:
        problems.append(f'scores differ by {figures["scores max |diff|"]:.3g} '
                        f'(limit {SCORE:g})')
    return problems


def example_scene(model: nn.Module, shape, seed: int = 0) -> Tensor:
    """(1, 3, H, W): a few filled rectangles on a noisy background, normalised by the model's
    data preprocessor. Random noise alone gives a trained detector nothing to find, which would
    leave the check with no detections to compare."""
    generator = torch.Generator().manual_seed(seed)
    height, width = shape
    image = torch.rand(3, height, width, generator=generator) * 60 + 100
    for _ in range(6):
        h, w = (int(torch.randint(8, max(9, min(height, width) // 3), (1,),
                                  generator=generator)) for _ in range(2))
        y, x = int(torch.randint(0, height - h, (1,), generator=generator)), int(
            torch.randint(0, width - w, (1,), generator=generator))
        image[:, y:y + h, x:x + w] = torch.rand(3, 1, 1, generator=generator) * 255
    preprocessor = model.data_preprocessor
    if getattr(preprocessor, '_enable_normalize', False):
        image = (image - preprocessor.mean.view(3, 1, 1)) / preprocessor.std.view(3, 1, 1)
    return image[None]
