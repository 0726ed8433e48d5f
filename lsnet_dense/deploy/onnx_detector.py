"""mmdet detectors whose network runs in ONNX Runtime and whose post-processing is mmdet's own.

They are built from the same config as the PyTorch model (``type`` swapped, see
:func:`lsnet_dense.deploy.onnx_model_config`), so mmengine's runner, the evaluators,
``test_metrics.json`` and mmdet's inferencer work unchanged. The PyTorch heads are kept only for
their post-processing (anchors, box decoding, NMS, mask pasting); their weights are unused.
"""
import os.path as osp
from typing import Dict, List, Optional

import numpy as np
import torch
from mmdet.models.detectors import SingleStageDetector, TwoStageDetector
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import scale_boxes
from mmengine.structures import InstanceData
from torch import Tensor

from .backends import Session
from .end2end_check import paste_masks
from .inference_only import InferenceOnly
from .runtime import OnnxRunner, check_input_size


def _levels(outputs: Dict[str, Tensor], name: str) -> List[Tensor]:
    """``name_0``, ``name_1``, ... of the graph's named outputs, in level order."""
    count = sum(1 for key in outputs if key.rsplit('_', 1)[0] == name)
    return [outputs[f'{name}_{i}'] for i in range(count)]


@MODELS.register_module()
class ONNXSingleStageDetector(InferenceOnly, SingleStageDetector):
    """RetinaNet-style detector: the ONNX graph gives ``cls_score_i`` / ``bbox_pred_i`` per
    level, and ``bbox_head.predict_by_feat`` decodes them.

    Args:
        onnx_file: the exported ``.onnx``.
        ort_threads: ONNX Runtime intra-op threads (default: its own choice).
        ort_device: ``'auto'`` (CUDA provider when present), ``'cpu'`` or ``'cuda'``.
        **kwargs: the config's detector arguments (backbone, neck, bbox_head, test_cfg, ...).
    """

    def __init__(self, onnx_file: str, ort_threads: Optional[int] = None,
                 ort_device: str = 'auto', **kwargs):
        super().__init__(**kwargs)
        self.runner = OnnxRunner(onnx_file, ort_threads, device=ort_device)

    def predict(self, batch_inputs: Tensor, batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        outputs = dict(zip(self.runner.output_names, self.runner(batch_inputs)))
        results = self.bbox_head.predict_by_feat(
            _levels(outputs, 'cls_score'), _levels(outputs, 'bbox_pred'),
            batch_img_metas=[s.metainfo for s in batch_data_samples], rescale=rescale)
        return self.add_pred_to_datasample(batch_data_samples, results)


@MODELS.register_module()
class ONNXTwoStageDetector(InferenceOnly, TwoStageDetector):
    """Mask R-CNN-style detector in three graphs: the dense network (``feat_i``,
    ``rpn_cls_score_i``, ``rpn_bbox_pred_i``), the RoI box head and the RoI mask head.

    Proposals, RoIAlign (mmcv), box decoding, NMS and mask pasting are mmdet's own code: the RoI
    head's ``predict`` runs unchanged, with its box and mask heads' forward calls answered by
    ONNX Runtime.

    Args:
        onnx_file: the dense graph; ``STEM.roi_bbox.onnx`` and ``STEM.roi_mask.onnx`` beside it.
        ort_threads, ort_device: see :class:`ONNXSingleStageDetector`.
        **kwargs: the config's detector arguments.
    """

    def __init__(self, onnx_file: str, ort_threads: Optional[int] = None,
                 ort_device: str = 'auto', **kwargs):
        super().__init__(**kwargs)
        self.runner = OnnxRunner(onnx_file, ort_threads, device=ort_device)
        stem = osp.splitext(onnx_file)[0]
        for name, head in (('bbox', self.roi_head.bbox_head), ('mask', self.roi_head.mask_head)):
            runner = OnnxRunner(f'{stem}.roi_{name}.onnx', ort_threads, device=ort_device)
            # The head object stays (its predict_by_feat is mmdet's post-processing); only its
            # forward, the part with weights, is the exported graph.
            head.forward = _single_or_tuple(runner)

    def predict(self, batch_inputs: Tensor, batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        outputs = dict(zip(self.runner.output_names, self.runner(batch_inputs)))
        features = tuple(_levels(outputs, 'feat'))
        proposals = self.rpn_head.predict_by_feat(
            _levels(outputs, 'rpn_cls_score'), _levels(outputs, 'rpn_bbox_pred'),
            batch_img_metas=[s.metainfo for s in batch_data_samples], rescale=False)
        results = self.roi_head.predict(features, proposals, batch_data_samples, rescale=rescale)
        return self.add_pred_to_datasample(batch_data_samples, results)


def _single_or_tuple(runner: OnnxRunner):
    def forward(roi_features: Tensor):
        outputs = runner(roi_features)
        return outputs[0] if len(outputs) == 1 else tuple(outputs)
    return forward


class End2EndSession:
    """The end-to-end detectors' runtime session, opened from the config's ``onnx_file``."""

    def __init__(self, onnx_file: str, backend: str = 'onnxruntime', precision: str = 'f32',
                 threads: Optional[int] = None, **kwargs):
        super().__init__(**kwargs)
        self.session = Session(onnx_file, backend, precision, threads)


@MODELS.register_module()
class ONNXEnd2EndDetector(End2EndSession, InferenceOnly, SingleStageDetector):
    """A RetinaNet whose whole prediction is an end-to-end file (``--end2end``): the graph gives
    boxes in input pixels, scores and labels; only the rescale to the original image is left.

    Args:
        onnx_file: the end-to-end ``.onnx``.
        backend, precision, threads: see :class:`lsnet_dense.deploy.backends.Session` (CPU).
        **kwargs: the config's detector arguments (its data preprocessor and test pipeline
            feed the graph; the network's weights are unused).
    """

    def predict(self, batch_inputs: Tensor, batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        results = []
        for images, sample in zip(batch_inputs.split(1), batch_data_samples):
            boxes, scores, labels = _run_end2end(self.session, images, sample)
            if rescale:
                # mmdet's own rescale: a multiplication by the reciprocal scale factors.
                boxes = scale_boxes(boxes, [1 / s for s in sample.metainfo['scale_factor']])
            results.append(InstanceData(bboxes=boxes.to(images.device),
                                        scores=scores.to(images.device),
                                        labels=labels.to(images.device)))
        return self.add_pred_to_datasample(batch_data_samples, results)


@MODELS.register_module()
class ONNXEnd2EndTwoStageDetector(End2EndSession, InferenceOnly, TwoStageDetector):
    """A Mask R-CNN whose whole prediction but the mask paste is an end-to-end file
    (``--end2end``): boxes in input pixels, scores, labels and (N, 28, 28) mask probabilities.
    The boxes are rescaled and the masks pasted as ``FCNMaskHead._predict_by_feat_single``
    does it on the CPU (:func:`lsnet_dense.deploy.end2end_check.paste_masks`).

    Args: as :class:`ONNXEnd2EndDetector`.
    """

    def predict(self, batch_inputs: Tensor, batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        threshold = self.roi_head.test_cfg.mask_thr_binary
        results = []
        for images, sample in zip(batch_inputs.split(1), batch_data_samples):
            boxes, scores, labels, probabilities = _run_end2end(self.session, images, sample)
            scale = boxes.new_tensor(sample.metainfo['scale_factor']).repeat(2)
            height, width = sample.metainfo['ori_shape'][:2]
            if rescale:
                boxes = boxes / scale  # mmdet's mask head divides, in place
            else:  # mmdet's size of a mask in input pixels
                height, width = (int(np.round(height * scale[1].item())),
                                 int(np.round(width * scale[0].item())))
            masks = paste_masks(probabilities, boxes, height, width, threshold)
            results.append(InstanceData(bboxes=boxes.to(images.device),
                                        scores=scores.to(images.device),
                                        labels=labels.to(images.device),
                                        masks=masks.to(images.device)))
        return self.add_pred_to_datasample(batch_data_samples, results)


def _run_end2end(session: Session, images: Tensor, sample) -> List[Tensor]:
    """One image (1, 3, H, W) through an end-to-end detector file: its outputs as tensors."""
    check_input_size(session.path, session.input_shapes[0], tuple(images.shape))
    image_size = np.array(sample.metainfo['img_shape'][:2], np.float32)
    return [torch.from_numpy(np.ascontiguousarray(o)) for o in
            session.run({'images': images.cpu().numpy(), 'image_size': image_size})]
