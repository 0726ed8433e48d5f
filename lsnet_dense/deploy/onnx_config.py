"""Turning a detector / segmenter config into one whose model runs an exported ONNX file."""
from typing import Optional

from mmengine.config import Config

from lsnet_dense.errors import PreflightError
from .backends import check_backend
from .export import SUPPORTED_MODELS, supported_text
from .sidecar import check_sidecar_matches, read_sidecar

ONNX_MODEL_TYPES = {'single_stage': 'ONNXSingleStageDetector',
                    'two_stage': 'ONNXTwoStageDetector', 'segmentor': 'ONNXEncoderDecoder'}
END2END_MODEL_TYPES = {'single_stage': 'ONNXEnd2EndDetector',
                       'two_stage': 'ONNXEnd2EndTwoStageDetector',
                       'segmentor': 'ONNXEnd2EndSegmentor'}


def head_num_classes(model_cfg) -> Optional[int]:
    kind = SUPPORTED_MODELS[model_cfg.type]
    head = dict(single_stage=lambda: model_cfg.bbox_head,
                two_stage=lambda: model_cfg.roi_head.bbox_head,
                segmentor=lambda: model_cfg.decode_head)[kind]()
    return head.get('num_classes')


def onnx_model_config(cfg: Config, onnx_file: str, threads: Optional[int] = None,
                      device: str = 'auto', backend: str = 'onnxruntime',
                      precision: str = 'f32') -> dict:
    """Point ``cfg.model`` at ``onnx_file`` (in place) after checking that they match.

    The model keeps the config's data preprocessor, heads (for post-processing) and test
    settings; ``load_from`` is cleared. A raw file runs in ONNX Runtime (``device``); an
    end-to-end file (``--end2end``) on the CPU of ``backend`` (onnxruntime or openvino) at
    ``precision``. Returns the file's sidecar.

    Raises:
        PreflightError: unsupported model type, missing sidecar, other task / model / classes,
            OpenVINO or bf16 asked of a raw file.
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
    kind = SUPPORTED_MODELS[model_type]
    if content.get('end2end'):
        check_backend(backend, precision)
        cfg.model = dict(cfg.model, type=END2END_MODEL_TYPES[kind], backbone=backbone,
                         onnx_file=onnx_file, backend=backend, precision=precision,
                         threads=threads)
    else:
        if (backend, precision) != ('onnxruntime', 'f32'):
            raise PreflightError(f'{onnx_file} is a raw file (the network up to its raw '
                                 'outputs; mmdet / mmseg post-process them in PyTorch), which '
                                 'runs in ONNX Runtime at f32 only; OpenVINO and bf16 run '
                                 'end-to-end files: export with --end2end')
        cfg.model = dict(cfg.model, type=ONNX_MODEL_TYPES[kind], backbone=backbone,
                         onnx_file=onnx_file, ort_threads=threads, ort_device=device)
    cfg.model.pop('pretrained', None)
    cfg.load_from = None
    return content
