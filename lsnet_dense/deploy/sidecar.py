"""The JSON written beside an exported ``.onnx``: what a runtime needs to feed and decode it.

``FILE.onnx`` gets ``FILE.json`` with the input (size or dynamic, mean / std, channel order,
padding), the task and model type, the classes, the graph's outputs and how they are decoded
(the head's settings and ``test_cfg``), and the file names of further graphs (Mask R-CNN's RoI
heads).
"""
import json
import os.path as osp
from typing import Optional, Sequence

from mmengine.config import Config, ConfigDict

from lsnet_dense.engine import TASK_OF_SCOPE
from lsnet_dense.errors import PreflightError

FORMAT = 'lsnet_dense-onnx'
VERSION = 1


def sidecar_path(onnx_path: str) -> str:
    return osp.splitext(onnx_path)[0] + '.json'


def _plain(value):
    """ConfigDicts, tuples and other config values as JSON-serialisable data."""
    if isinstance(value, (dict, ConfigDict)):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def config_classes(cfg: Config) -> Optional[list]:
    """The class names the config's test set uses: its metainfo, else its dataset type's."""
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader')
    if not loader:
        return None
    dataset = loader['dataset']
    while 'dataset' in dataset:  # wrappers
        dataset = dataset['dataset']
    classes = (dataset.get('metainfo') or {}).get('classes')
    if classes is None and dataset.get('type'):
        if cfg.default_scope == 'mmdet':
            from mmdet.registry import DATASETS
        else:
            from mmseg.registry import DATASETS
        dataset_class = DATASETS.get(dataset['type'])
        classes = getattr(dataset_class, 'METAINFO', {}).get('classes')
    return list(classes) if classes is not None else None


def input_spec(cfg: Optional[Config], shape: Optional[Sequence[int]], dynamic: bool,
               batch: int = 1) -> dict:
    """The ``input`` entry: size, normalisation and padding of the data preprocessor."""
    preprocessor = (cfg.model.get('data_preprocessor') or {}) if cfg is not None else {}
    spec = dict(name='images', layout='NCHW', dtype='float32',
                shape=None if dynamic else [batch, 3, *shape], dynamic=dynamic,
                normalized_inside=False,
                mean=_plain(preprocessor.get('mean')), std=_plain(preprocessor.get('std')),
                channel_order='RGB' if preprocessor.get('bgr_to_rgb') else 'BGR')
    for key in ('pad_size_divisor', 'size', 'size_divisor', 'pad_val'):
        if preprocessor.get(key) is not None:
            spec[key] = _plain(preprocessor[key])
    if cfg is None:
        spec['channel_order'] = 'RGB'
        spec['note'] = 'images normalised as for the ImageNet backbone (not part of the graph)'
    return spec


def write_sidecar(onnx_path: str, **content) -> str:
    """Write ``FILE.json`` beside ``FILE.onnx``; returns its path."""
    path = sidecar_path(onnx_path)
    with open(path, 'w') as f:
        json.dump(_plain(dict(format=FORMAT, version=VERSION, **content)), f, indent=2)
    return path


def read_sidecar(onnx_path: str) -> dict:
    """The sidecar of ``FILE.onnx``, or an error saying how to get one."""
    path = sidecar_path(onnx_path)
    if not osp.isfile(path):
        raise PreflightError(f'{path} not found: {onnx_path} needs the JSON that '
                             'tools/deployment/export_onnx.py writes beside it')
    with open(path) as f:
        try:
            content = json.load(f)
        except json.JSONDecodeError as error:
            raise PreflightError(f'{path} is not valid JSON: {error}') from None
    if content.get('format') != FORMAT:
        raise PreflightError(f'{path} is not an lsnet_dense export description '
                             f'(format {content.get("format")!r})')
    return content


def check_sidecar_matches(content: dict, cfg: Config, onnx_path: str, model_type: str,
                          num_classes: Optional[int]):
    """The exported model is of the config's task, model type and classes."""
    task = TASK_OF_SCOPE.get(cfg.default_scope)
    problems = []
    if content.get('task') != task:
        problems.append(f'it is a {content.get("task")} model, the config is for {task}')
    elif content.get('model') != model_type:
        problems.append(f'it is a {content.get("model")}, the config builds a {model_type}')
    if num_classes is not None and content.get('num_classes') != num_classes:
        problems.append(f'it predicts {content.get("num_classes")} classes, the config\'s '
                        f'head {num_classes}')
    classes = config_classes(cfg)
    exported = content.get('classes')
    if not problems and classes is not None and exported is not None and classes != exported:
        problems.append(f'its classes are {_short(exported)}, the config\'s test set has '
                        f'{_short(classes)}')
    if problems:
        raise PreflightError(f'{onnx_path} does not match the config: {"; ".join(problems)}. '
                             'Export it from this config with tools/deployment/export_onnx.py')


def _short(names: Sequence[str], shown: int = 5) -> str:
    more = f', ... ({len(names)} in all)' if len(names) > shown else ''
    return '(' + ', '.join(map(str, names[:shown])) + more + ')'


# Test-pipeline transforms that only load or pack data: nothing for a runtime to do.
_PASSIVE_TRANSFORMS = ('LoadImageFromFile', 'LoadAnnotations', 'PackDetInputs',
                       'PackSegInputs')


def resize_spec(cfg: Config) -> list:
    """The test pipeline's geometric steps, in order, for a runtime to repeat.

    ``{'type': 'Resize', 'scale': [W, H], 'keep_ratio': bool}`` resizes as ``mmcv.imrescale``
    (keep_ratio: the largest size with the long edge <= max(W, H) and the short edge <=
    min(W, H)) or ``mmcv.imresize``, bilinear; ``{'type': 'ResizeToMultiple', 'size_divisor':
    D}`` resizes up to the next multiple of D. Only these are supported.

    Raises:
        PreflightError: a transform a runtime could not repeat (flip, pad, multi-scale ...).
    """
    loader = cfg.get('test_dataloader') or {}
    dataset = loader.get('dataset') or {}
    while 'dataset' in dataset:
        dataset = dataset['dataset']
    steps = []
    for transform in dataset.get('pipeline') or []:
        kind = transform['type']
        interpolation = transform.get('interpolation') or 'bilinear'
        if kind in _PASSIVE_TRANSFORMS:
            if kind == 'LoadImageFromFile' and transform.get('color_type', 'color') != 'color':
                raise PreflightError(f'--end2end: LoadImageFromFile with color_type '
                                     f'{transform["color_type"]!r} is not supported')
            continue
        if kind == 'Resize' and transform.get('scale') and interpolation == 'bilinear':
            scale = transform['scale']
            scale = [scale, scale] if isinstance(scale, int) else list(scale)
            steps.append(dict(type='Resize', scale=scale,
                              keep_ratio=bool(transform.get('keep_ratio', False))))
        elif kind == 'ResizeToMultiple' and interpolation == 'bilinear':
            steps.append(dict(type='ResizeToMultiple',
                              size_divisor=int(transform['size_divisor'])))
        else:
            raise PreflightError(f'--end2end: the test pipeline\'s {_plain(transform)} is not '
                                 'supported by the runtimes (supported: LoadImageFromFile, '
                                 'Resize with a scale, ResizeToMultiple, both bilinear; '
                                 'LoadAnnotations and Pack*Inputs are skipped)')
    return steps
