"""An mmseg EncoderDecoder whose network runs in ONNX Runtime (see onnx_detector.py for why a
model built from the same config)."""
from typing import List, Optional

import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import OptSampleList, SampleList
from torch import Tensor

from lsnet_dense.errors import PreflightError
from .backends import Session
from .inference_only import InferenceOnly
from .runtime import OnnxRunner, check_input_size


@MODELS.register_module()
class ONNXEncoderDecoder(InferenceOnly, EncoderDecoder):
    """Semantic FPN / UperNet: the ONNX graph gives ``seg_logits``; mmseg's own
    ``decode_head.predict_by_feat`` resizes them and ``postprocess_result`` takes the argmax.

    Whole-image and sliding-window testing (``test_cfg.mode``) work as in PyTorch: both call
    :meth:`encode_decode`, a file exported at the crop size serves sliding windows.

    Args:
        onnx_file: the exported ``.onnx``.
        ort_threads, ort_device: see :class:`ONNXSingleStageDetector`.
        **kwargs: the config's segmentor arguments.
    """

    def __init__(self, onnx_file: str, ort_threads: Optional[int] = None,
                 ort_device: str = 'auto', **kwargs):
        super().__init__(**kwargs)
        self.runner = OnnxRunner(onnx_file, ort_threads, device=ort_device)

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """(B, 3, H, W) -> logits (B, classes, H, W) at the input size."""
        seg_logits = self.runner(inputs)[0]
        return self.decode_head.predict_by_feat(seg_logits, batch_img_metas)


@MODELS.register_module()
class ONNXEnd2EndSegmentor(InferenceOnly, EncoderDecoder):
    """Semantic FPN / UperNet whose whole prediction is an end-to-end file (``--end2end``): the
    graph crops the padding and gives the label map at the original size (``ori_shape``).

    Args:
        onnx_file: the end-to-end ``.onnx``.
        backend, precision, threads: see :class:`lsnet_dense.deploy.backends.Session` (CPU).
        **kwargs: the config's segmentor arguments.
    """

    def __init__(self, onnx_file: str, backend: str = 'onnxruntime', precision: str = 'f32',
                 threads: Optional[int] = None, **kwargs):
        super().__init__(**kwargs)
        mode = (self.test_cfg or {}).get('mode', 'whole')
        if mode != 'whole':
            raise PreflightError(f'{onnx_file} is an end-to-end file, which predicts whole '
                                 f'images; the config tests in {mode!r} mode. Add '
                                 '--cfg-options model.test_cfg.mode=whole, or export without '
                                 '--end2end (the raw file serves sliding windows)')
        self.session = Session(onnx_file, backend, precision, threads)

    def predict(self, inputs: Tensor, data_samples: OptSampleList = None) -> SampleList:
        data_samples = data_samples or [SegDataSample(metainfo=dict(
            img_shape=inputs.shape[2:], ori_shape=inputs.shape[2:])) for _ in inputs]
        for images, sample in zip(inputs.split(1), data_samples):
            check_input_size(self.session.path, self.session.input_shapes[0],
                             tuple(images.shape))
            left, right, top, bottom = sample.metainfo.get(
                'img_padding_size', sample.metainfo.get('padding_size', [0, 0, 0, 0]))
            if left or top:
                raise ValueError('the end-to-end file crops padding at the bottom and right '
                                 f'only, got padding {left, right, top, bottom}')
            valid = np.array([images.shape[2] - bottom, images.shape[3] - right], np.int64)
            seg_map = self.session.run({
                'images': images.cpu().numpy(), 'image_size': valid,
                'output_size': np.array(sample.metainfo['ori_shape'][:2], np.int64)})[0]
            sample.set_data({'pred_sem_seg': PixelData(
                data=torch.from_numpy(seg_map).to(images.device))})
        return data_samples
