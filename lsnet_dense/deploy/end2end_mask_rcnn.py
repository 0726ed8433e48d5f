"""Mask R-CNN as one end-to-end graph (``export_onnx.py --end2end``).

``images`` (1, 3, H, W) and ``image_size`` (2,) float32 = valid (h, w) inside the padded
``images`` -> ``boxes`` (N, 4) x1 y1 x2 y2 in pixels of ``images``, ``scores`` (N,)
descending, ``labels`` (N,) int64, ``masks`` (N, M, M) float32: the mask head's probability
(sigmoid) of each detection's own class on the M x M grid (28 x 28) spanning its box;
N <= ``test_cfg.rcnn.max_per_img``.

In the graph, in mmdet's order and with the config's ``test_cfg``: the RPN (anchors, per-level
top-``nms_pre`` with ONNX ``TopK``, box decoding, ``min_bbox_size``, NMS per level with
``NonMaxSuppression``, ``max_per_img``), RoIAlign (ONNX ``RoiAlign``) on the level mmdet's
``SingleRoIExtractor`` maps each RoI to, the box head (softmax, per-class decoding, score
threshold, class-aware NMS, ``max_per_img``) and the mask head on the detections.

Not in the graph: pasting the masks into the image (``FCNMaskHead._predict_by_feat_single``:
each M x M map resampled into its box, then ``>= mask_thr_binary``). The runner and
:func:`lsnet_dense.deploy.end2end_check.paste_masks` do it, as mmdet does on the CPU, one mask
at a time; in the graph it would need an (N, H, W) output for N masks of mostly zeros.
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from mmdet.models.task_modules.coders.delta_xywh_bbox_coder import delta2bbox
from torch import Tensor

from lsnet_dense.errors import PreflightError
from .end2end import REJECTED


def _nms_problems(name: str, cfg) -> List[str]:
    nms = dict(cfg.get('nms') or {})
    if nms.get('type', 'nms') != 'nms':
        return [f'{name} NMS type {nms.get("type")!r}']
    # batched_nms's per-class loop above split_thr keeps what the offsets keep: no problem.
    return []


def _coder_problems(name: str, coder) -> List[str]:
    problems = []
    if type(coder).__name__ != 'DeltaXYWHBBoxCoder':
        problems.append(f'{name} box coder {type(coder).__name__}')
    elif not coder.clip_border:
        # NMS offsets assume coordinates >= 0 (see _batched_nms).
        problems.append(f'{name} box coder with clip_border=False')
    return problems


def _extractor_problems(name: str, extractor) -> List[str]:
    if type(extractor).__name__ != 'SingleRoIExtractor':
        return [f'{name} RoI extractor {type(extractor).__name__}']
    if type(extractor.roi_layers[0]).__name__ != 'RoIAlign':
        return [f'{name} RoI layer {type(extractor.roi_layers[0]).__name__}']
    if any(layer.pool_mode != 'avg' for layer in extractor.roi_layers):
        return [f'{name} RoIAlign pool_mode="max"']
    return []


def check_mask_rcnn(model: nn.Module) -> dict:
    """The settings the graph reproduces, or an error naming every one it does not support."""
    rpn, roi = model.rpn_head, model.roi_head
    problems = []
    if type(roi).__name__ != 'StandardRoIHead':
        problems.append(f'RoI head {type(roi).__name__}')
    elif not roi.with_mask:
        problems.append('a RoI head without a mask head')
    elif roi.with_shared_head:
        problems.append('a shared RoI head')
    if problems:
        raise PreflightError('--end2end supports Mask R-CNN with mmdet\'s StandardRoIHead, box '
                             'and mask heads; this config has ' + ', '.join(problems))
    rpn_cfg, rcnn_cfg = model.test_cfg.rpn, model.test_cfg.rcnn
    if not rpn.use_sigmoid_cls:
        problems.append('an RPN with a softmax classifier (use_sigmoid_cls=False)')
    if rpn_cfg.get('nms_pre', -1) <= 0:
        problems.append(f'rpn nms_pre={rpn_cfg.get("nms_pre", -1)} (a positive top-k is '
                        'needed)')
    if roi.bbox_head.custom_cls_channels:
        problems.append(f'box head loss {type(roi.bbox_head.loss_cls).__name__} with custom '
                        'class channels')
    if rcnn_cfg.get('max_per_img', 0) <= 0:
        problems.append(f'rcnn max_per_img={rcnn_cfg.get("max_per_img")} (a positive limit '
                        'is needed)')
    if rcnn_cfg.get('mask_thr_binary', 0.5) < 0:
        problems.append('rcnn mask_thr_binary < 0 (soft masks)')
    problems += (_coder_problems('RPN', rpn.bbox_coder)
                 + _coder_problems('box head', roi.bbox_head.bbox_coder)
                 + _nms_problems('rpn', rpn_cfg) + _nms_problems('rcnn', rcnn_cfg)
                 + _extractor_problems('box', roi.bbox_roi_extractor)
                 + _extractor_problems('mask', roi.mask_roi_extractor))
    if problems:
        raise PreflightError('--end2end does not support these Mask R-CNN settings: '
                             + ', '.join(problems))
    rpn_nms, rcnn_nms = dict(rpn_cfg.nms), dict(rcnn_cfg.nms)
    return dict(
        rpn=dict(nms_pre=int(rpn_cfg.nms_pre), max_per_img=int(rpn_cfg.max_per_img),
                 iou_threshold=float(rpn_nms['iou_threshold']),
                 class_agnostic=bool(rpn_nms.get('class_agnostic', False)),
                 min_bbox_size=float(rpn_cfg.get('min_bbox_size', -1))),
        rcnn=dict(score_thr=float(rcnn_cfg.get('score_thr', 0)),
                  iou_threshold=float(rcnn_nms['iou_threshold']),
                  class_agnostic=bool(rcnn_nms.get('class_agnostic', False)),
                  max_per_img=int(rcnn_cfg.max_per_img),
                  mask_thr_binary=float(rcnn_cfg.get('mask_thr_binary', 0.5))))


def _decode(coder, anchors: Tensor, deltas: Tensor, image_size: Tensor) -> Tensor:
    """(K, 4) anchors / RoIs and (K, 4) deltas -> boxes clipped to ``image_size`` (h, w)."""
    boxes = delta2bbox(anchors, deltas, coder.means, coder.stds, max_shape=None,
                       add_ctr_clamp=coder.add_ctr_clamp, ctr_clamp=coder.ctr_clamp)
    bounds = image_size.flip(0).repeat(2)  # w, h, w, h
    return torch.minimum(boxes.clamp(min=0), bounds)


def _batched_nms(boxes: Tensor, scores: Tensor, groups: Tensor, iou_threshold: float,
                 class_agnostic: bool) -> Tensor:
    """mmcv's ``batched_nms`` on (K, 4) boxes: indices kept, best first. Each group's boxes
    are shifted by group * (largest coordinate + 1), so that groups cannot overlap.

    The 0 appended keeps the maximum defined when K is 0; coordinates are clipped to >= 0, so
    it never changes a non-empty maximum."""
    if class_agnostic:
        return torchvision.ops.nms(boxes, scores, iou_threshold)
    largest = torch.cat([boxes.reshape(-1), boxes.new_zeros(1)]).max()
    shifted = boxes + (groups.to(boxes) * (largest + 1))[:, None]
    return torchvision.ops.nms(shifted, scores, iou_threshold)


def roi_align_levels(extractor, feats: Sequence[Tensor], boxes: Tensor) -> Tensor:
    """``SingleRoIExtractor.forward`` for one image: (K, 4) boxes in input pixels -> (K, C, S,
    S), each RoI pooled from the level ``map_roi_levels`` gives it (scale sqrt(w h) against
    ``finest_scale``).

    ``torchvision.ops.roi_align`` exports as ONNX ``RoiAlign``; ``aligned=True`` becomes
    ``coordinate_transformation_mode='half_pixel'``: both shift the box by -0.5 px after
    scaling and leave small RoIs unstretched, as mmcv's RoIAlign(aligned=True). Its
    ``sampling_ratio`` 0 (ceil(RoI size / output size) samples per bin) is ONNX's too.
    """
    rois = torch.cat([boxes.new_zeros(boxes.shape[0], 1), boxes], dim=1)
    levels = extractor.map_roi_levels(rois, len(extractor.featmap_strides))
    layer = extractor.roi_layers[0]
    pooled = boxes.new_zeros(boxes.shape[0], extractor.out_channels, *layer.output_size)
    for level, layer in enumerate(extractor.roi_layers):
        index = (levels == level).nonzero()[:, 0]
        part = torchvision.ops.roi_align(feats[level], rois[index], layer.output_size,
                                         layer.spatial_scale, layer.sampling_ratio,
                                         layer.aligned)
        pooled = pooled.index_copy(0, index, part)
    return pooled


class MaskRCNNEnd2End(nn.Module):
    """(images (1, 3, H, W), image_size (2,)) -> boxes (N, 4), scores (N,), labels (N,) int64,
    masks (N, M, M) probabilities; see the module docstring."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.settings = check_mask_rcnn(model)

    @staticmethod
    def output_names() -> List[str]:
        return ['boxes', 'scores', 'labels', 'masks']

    @staticmethod
    def input_names() -> List[str]:
        return ['images', 'image_size']

    def forward(self, images: Tensor, image_size: Tensor
                ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        feats = self.model.extract_feat(images)
        proposals = self._proposals(feats, image_size)
        boxes, scores, labels = self._detections(feats, proposals, image_size)
        return boxes, scores, labels, self._masks(feats, boxes, labels)

    def _proposals(self, feats: Sequence[Tensor], image_size: Tensor) -> Tensor:
        """``RPNHead._predict_by_feat_single``: (P, 4) proposals, best first, P <=
        ``rpn.max_per_img``."""
        head, cfg = self.model.rpn_head, self.settings['rpn']
        cls_scores, bbox_preds = head(feats)
        priors = head.prior_generator.grid_priors([c.shape[-2:] for c in cls_scores],
                                                  dtype=feats[0].dtype, device=feats[0].device)
        parts = []
        for level, (cls_score, bbox_pred, prior) in enumerate(zip(cls_scores, bbox_preds,
                                                                  priors)):
            scores = cls_score[0].permute(1, 2, 0).reshape(-1).sigmoid()
            deltas = bbox_pred[0].permute(1, 2, 0).reshape(-1, 4)
            # Padded to nms_pre so that k is fixed on small levels; the padding is rejected.
            padded = torch.cat([scores, scores.new_full((cfg['nms_pre'],), REJECTED)])
            top, index = padded.topk(cfg['nms_pre'])
            index = index.clamp(max=scores.shape[0] - 1)
            parts.append((top, prior[index], deltas[index], torch.full_like(index, level)))
        scores, anchors, deltas, levels = (torch.cat(p) for p in zip(*parts))
        boxes = _decode(head.bbox_coder, anchors, deltas, image_size)
        valid = scores > REJECTED
        if cfg['min_bbox_size'] >= 0:
            wh = boxes[:, 2:] - boxes[:, :2]
            valid = valid & (wh > cfg['min_bbox_size']).all(1)
        index = valid.nonzero()[:, 0]
        boxes, scores, levels = boxes[index], scores[index], levels[index]
        keep = _batched_nms(boxes, scores, levels, cfg['iou_threshold'],
                            cfg['class_agnostic'])
        return boxes[keep[:cfg['max_per_img']]]

    def _detections(self, feats: Sequence[Tensor], proposals: Tensor,
                    image_size: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """``BBoxHead._predict_by_feat_single`` and ``multiclass_nms`` on (P, 4) proposals."""
        roi, cfg = self.model.roi_head, self.settings['rcnn']
        head = roi.bbox_head
        extractor = roi.bbox_roi_extractor
        cls_score, bbox_pred = head(roi_align_levels(extractor, feats[:extractor.num_inputs],
                                                     proposals))
        classes = head.num_classes
        scores = F.softmax(cls_score, dim=-1)[:, :classes]  # the last column is background
        per_roi = 1 if head.reg_class_agnostic else classes
        count = proposals.shape[0]
        anchors = proposals[:, None].expand(count, per_roi, 4).reshape(-1, 4)
        boxes = _decode(head.bbox_coder, anchors, bbox_pred.reshape(-1, 4), image_size)
        boxes = boxes.reshape(count, per_roi, 4).expand(count, classes, 4).reshape(-1, 4)
        labels = torch.arange(classes, device=boxes.device).repeat(count)
        scores = scores.reshape(-1)
        index = (scores > cfg['score_thr']).nonzero()[:, 0]
        boxes, scores, labels = boxes[index], scores[index], labels[index]
        keep = _batched_nms(boxes, scores, labels, cfg['iou_threshold'],
                            cfg['class_agnostic'])[:cfg['max_per_img']]
        return boxes[keep], scores[keep], labels[keep]

    def _masks(self, feats: Sequence[Tensor], boxes: Tensor, labels: Tensor) -> Tensor:
        """(N, M, M): ``FCNMaskHead`` on the detections, sigmoid of each one's class."""
        roi = self.model.roi_head
        extractor = roi.mask_roi_extractor
        logits = roi.mask_head(roi_align_levels(extractor, feats[:extractor.num_inputs],
                                                boxes))
        if roi.mask_head.class_agnostic:
            selected = logits[:, 0]
        else:
            selected = logits[torch.arange(logits.shape[0], device=logits.device), labels]
        return selected.sigmoid()
