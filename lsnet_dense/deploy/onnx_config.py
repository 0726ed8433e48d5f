"""Turning a detector / segmenter config into one whose model runs an exported ONNX file."""
from typing import Optional

from mmengine.config import Config

from lsnet_dense.errors import PreflightError
from .export import SUPPORTED_MODELS, supported_text
from .sidecar import check_sidecar_matches, read_sidecar

ONNX_MODEL_TYPES = {'single_stage': 'ONNXSingleStageDetector',
                    'two_stage': 'ONNXTwoStageDetector', 'segmentor': 'ONNXEncoderDecoder'}


def head_num_classes(model_cfg) -> Optional[int]:
    kind = SUPPORTED_MODELS[model_cfg.type]
    head = dict(single_stage=lambda: model_cfg.bbox_head,
                two_stage=lambda: model_cfg.roi_head.bbox_head,
                segmentor=lambda: model_cfg.decode_head)[kind]()
    return head.get('num_classes')


def onnx_model_config(cfg: Config, onnx_file: str, threads: Optional[int] = None,
                      device: str = 'auto') -> dict:
    """Point ``cfg.model`` at ``onnx_file`` (in place) after checking that they match.

    The model keeps the config's data preprocessor, heads (for post-processing) and test
    settings; ``load_from`` is cleared. Returns the file's sidecar.

    Raises:
        PreflightError: unsupported model type, missing sidecar, other task / model / classes.
    """
    content = read_sidecar(onnx_file)
    model_type = cfg.model.get('type')
    if model_type not in SUPPORTED_MODELS:
        raise PreflightError(f'model type {model_type!r} cannot run from ONNX; supported: '
                             f'{supported_text()}')
    check_sidecar_matches(content, cfg, onnx_file, model_type, head_num_classes(cfg.model))
    # Registers the ONNX model types in mmdet's / mmseg's registries.
    if cfg.default_scope == 'mmdet':
        from . import onnx_detector  # noqa: F401
    else:
        from . import onnx_segmentor  # noqa: F401
    backbone = dict(cfg.model.backbone, init_cfg=None)  # the weights are the file's
    cfg.model = dict(cfg.model, type=ONNX_MODEL_TYPES[SUPPORTED_MODELS[model_type]],
                     backbone=backbone, onnx_file=onnx_file, ort_threads=threads,
                     ort_device=device)
    cfg.model.pop('pretrained', None)
    cfg.load_from = None
    return content
