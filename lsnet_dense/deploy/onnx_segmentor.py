"""An mmseg EncoderDecoder whose network runs in ONNX Runtime (see onnx_detector.py for why a
model built from the same config)."""
from typing import List, Optional

from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from torch import Tensor

from .inference_only import InferenceOnly
from .runtime import OnnxRunner


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
