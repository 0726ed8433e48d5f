"""End-to-end graphs: the whole prediction in one ONNX file, so that no PyTorch code runs after it.

* RetinaNet: ``images`` (1, 3, H, W) and ``image_size`` (2,) -> ``boxes`` (N, 4) in pixels of
  ``images``, ``scores`` (N,), ``labels`` (N,), N <= ``test_cfg.max_per_img``. Anchors, the
  score threshold, the per-level top-k, box decoding and class-aware NMS (ONNX ``TopK`` and
  ``NonMaxSuppression``, from ``torch.topk`` and ``torchvision.ops.nms``) are in the graph, in
  mmdet's order and with the config's ``test_cfg``.
* Semantic FPN / UperNet: ``images`` (1, 3, H, W), ``image_size`` (2,) and ``output_size``
  (2,) -> ``seg_map`` (1, H_out, W_out): as mmseg, the logits resized (bilinear) to the input,
  cropped to ``image_size``, resized to ``output_size`` (the original image), then the argmax.

Mask R-CNN: :mod:`lsnet_dense.deploy.end2end_mask_rcnn`.

Pre-processing (resize, normalisation, padding) is not in the graphs; the sidecar describes it.
"""
from typing import List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from mmdet.models.task_modules.coders.delta_xywh_bbox_coder import delta2bbox
from torch import Tensor

from lsnet_dense.errors import PreflightError

# Score given to candidates that fail the score threshold: below every sigmoid score, so they
# sort after the valid ones and can suppress none of them.
REJECTED = -1.


def _check_retinanet(model: nn.Module) -> dict:
    """The test settings the graph reproduces, or an error naming what it does not support."""
    head, cfg = model.bbox_head, model.bbox_head.test_cfg
    problems = []
    if not head.use_sigmoid_cls:
        problems.append('a softmax classifier (use_sigmoid_cls=False)')
    if type(head.bbox_coder).__name__ != 'DeltaXYWHBBoxCoder':
        problems.append(f'box coder {type(head.bbox_coder).__name__}')
    if cfg.get('nms_pre', -1) <= 0:
        problems.append(f'nms_pre={cfg.get("nms_pre", -1)} (a positive top-k is needed)')
    if cfg.get('min_bbox_size', -1) > 0:
        # mmdet compares it in original-image pixels, which the graph does not know; 0 (drop
        # empty boxes) means the same in either.
        problems.append(f'min_bbox_size={cfg.min_bbox_size} (0 or none is supported)')
    nms = dict(cfg.get('nms') or {})
    if nms.get('type', 'nms') != 'nms':
        problems.append(f'NMS type {nms.get("type")!r}')
    if problems:
        raise PreflightError('--end2end supports RetinaNet heads with sigmoid scores, '
                             'DeltaXYWHBBoxCoder, nms_pre > 0 and plain NMS; this config has '
                             + ', '.join(problems))
    return dict(score_thr=float(cfg.get('score_thr', 0)), nms_pre=int(cfg.nms_pre),
                iou_threshold=float(nms['iou_threshold']),
                class_agnostic=bool(nms.get('class_agnostic', False)),
                max_per_img=int(cfg.max_per_img),
                drop_empty=cfg.get('min_bbox_size', -1) == 0)


class RetinaNetEnd2End(nn.Module):
    """(images (1, 3, H, W), image_size (2,) = valid (h, w) inside the padded images) ->
    boxes (N, 4) x1 y1 x2 y2 clipped to image_size, scores (N,) descending, labels (N,) int64.

    Follows ``BaseDenseHead._predict_by_feat_single`` and mmcv's ``batched_nms``; boxes stay in
    the pixels of ``images`` (rescaling to the original image is a division the runner does).
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.settings = _check_retinanet(model)

    @staticmethod
    def output_names() -> List[str]:
        return ['boxes', 'scores', 'labels']

    @staticmethod
    def input_names() -> List[str]:
        return ['images', 'image_size']

    def _level_candidates(self, cls_score: Tensor, bbox_pred: Tensor, priors: Tensor):
        """The ``nms_pre`` best (anchor, class) pairs of one level: scores, labels, anchors,
        deltas. Pairs below the score threshold get :data:`REJECTED`."""
        head, nms_pre = self.model.bbox_head, self.settings['nms_pre']
        classes = head.cls_out_channels
        scores = cls_score[0].permute(1, 2, 0).reshape(-1).sigmoid()
        deltas = bbox_pred[0].permute(1, 2, 0).reshape(-1, 4)
        # Padding to nms_pre keeps k fixed when a small level has fewer pairs: the padded
        # entries are rejected, so the top-k of the valid pairs is mmdet's.
        padded = torch.cat([scores, scores.new_full((nms_pre,), REJECTED)])
        top, index = padded.topk(nms_pre)
        index = index.clamp(max=scores.shape[0] - 1)
        top = torch.where(top > self.settings['score_thr'], top, top.new_tensor(REJECTED))
        anchor = torch.div(index, classes, rounding_mode='floor')
        return top, index % classes, priors[anchor], deltas[anchor]

    def forward(self, images: Tensor, image_size: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        head = self.model.bbox_head
        cls_scores, bbox_preds = head(self.model.extract_feat(images))
        priors = head.prior_generator.grid_priors([c.shape[-2:] for c in cls_scores],
                                                  dtype=images.dtype, device=images.device)
        levels = [self._level_candidates(*args) for args in zip(cls_scores, bbox_preds, priors)]
        scores, labels, anchors, deltas = (torch.cat(parts) for parts in zip(*levels))
        coder = head.bbox_coder
        boxes = delta2bbox(anchors, deltas, coder.means, coder.stds, max_shape=None,
                           add_ctr_clamp=coder.add_ctr_clamp, ctr_clamp=coder.ctr_clamp)
        if coder.clip_border:
            # delta2bbox's own clipping takes Python numbers; the size is a graph input here.
            bounds = image_size.flip(0).repeat(2)  # w, h, w, h
            boxes = torch.minimum(boxes.clamp(min=0), bounds)
        if self.settings['drop_empty']:
            wh = boxes[:, 2:] - boxes[:, :2]
            scores = torch.where((wh > 0).all(1), scores, scores.new_tensor(REJECTED))
        keep = self._nms(boxes, scores, labels)
        return boxes[keep], scores[keep], labels[keep]

    def _nms(self, boxes: Tensor, scores: Tensor, labels: Tensor) -> Tensor:
        """Indices kept, best first: mmcv's ``batched_nms`` (boxes of each class shifted apart
        by the largest valid coordinate + 1), then the threshold and ``max_per_img``."""
        valid = scores > REJECTED
        if self.settings['class_agnostic']:
            shifted = boxes
        else:
            largest = torch.where(valid, boxes.amax(1), boxes.new_tensor(-1.)).max()
            shifted = boxes + (labels.to(boxes) * (largest + 1))[:, None]
        keep = torchvision.ops.nms(shifted, scores, self.settings['iou_threshold'])
        keep = keep[scores[keep] > REJECTED]
        return keep[:self.settings['max_per_img']]


class SegmentorEnd2End(nn.Module):
    """(images (1, 3, H, W), image_size (2,) int64 = valid (h, w) inside the padded images,
    output_size (2,) int64) -> seg_map (1, *output_size) int64.

    ``decode_head.predict_by_feat`` and ``postprocess_result`` of mmseg: the logits are resized
    before the argmax, so the label map at the original size is mmseg's, not a resized map.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    @staticmethod
    def output_names() -> List[str]:
        return ['seg_map']

    @staticmethod
    def input_names() -> List[str]:
        return ['images', 'image_size', 'output_size']

    def forward(self, images: Tensor, image_size: Tensor, output_size: Tensor) -> Tensor:
        align_corners = self.model.decode_head.align_corners
        logits = self.model.decode_head(self.model.extract_feat(images))
        logits = F.interpolate(logits, size=images.shape[2:], mode='bilinear',
                               align_corners=align_corners)
        # Sizes read from tensors: torch.export needs their bounds stated.
        height, width = image_size[0].item(), image_size[1].item()
        torch._check(height >= 1)
        torch._check(width >= 1)
        torch._check(height <= images.shape[2])
        torch._check(width <= images.shape[3])
        out_height, out_width = output_size[0].item(), output_size[1].item()
        torch._check(out_height >= 1)
        torch._check(out_width >= 1)
        logits = F.interpolate(logits[:, :, :height, :width], size=(out_height, out_width),
                               mode='bilinear', align_corners=align_corners)
        return logits.argmax(dim=1)
