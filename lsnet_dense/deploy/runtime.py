"""Running an exported ONNX file in ONNX Runtime on torch tensors."""
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from lsnet_dense.errors import PreflightError

ONNXRUNTIME_REQUIREMENT = 'onnxruntime==1.31.1'


def import_onnxruntime():
    """The ``onnxruntime`` module, or an error saying how to install it."""
    try:
        import onnxruntime
    except ImportError as error:
        raise PreflightError(
            f'onnxruntime is not installed ({error}); install it with '
            f'`pip install {ONNXRUNTIME_REQUIREMENT}` (or onnxruntime-gpu for the CUDA provider), '
            'as pinned in requirements.txt') from error
    return onnxruntime


def session_options(threads: Optional[int] = None, optimization: str = 'all',
                    spinning: bool = True):
    """ONNX Runtime session options.

    Args:
        threads: intra-op threads (default: ONNX Runtime's, one per physical core).
        optimization: graph optimisation level, ``'basic'``, ``'extended'`` or ``'all'``
            (``'all'`` adds layout optimisations such as NCHWc convolutions).
        spinning: let idle intra-op threads spin-wait for work (ONNX Runtime's default).
            Sessions that take turns need it off: each has its own threads, and the spinning
            threads of the previous one would compete with the running one for the cores.
    """
    ort = import_onnxruntime()
    levels = dict(basic=ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                  extended=ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                  all=ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
    if optimization not in levels:
        raise ValueError(f'unknown optimisation level {optimization!r}: use one of {list(levels)}')
    options = ort.SessionOptions()
    options.graph_optimization_level = levels[optimization]
    if threads:
        options.intra_op_num_threads = threads
    if not spinning:
        options.add_session_config_entry('session.intra_op.allow_spinning', '0')
    options.log_severity_level = 3
    return options


def create_session(path: str, threads: Optional[int] = None, optimization: str = 'all',
                   device: str = 'auto', spinning: bool = True):
    """An ``InferenceSession`` on the CUDA provider when available (``device='auto'``), else CPU.

    ``threads``, ``optimization``, ``spinning``: see :func:`session_options`.
    """
    ort = import_onnxruntime()
    if not osp.isfile(path):
        raise PreflightError(f'ONNX file not found: {path}')
    available = ort.get_available_providers()
    if device == 'cpu':
        providers = ['CPUExecutionProvider']
    elif device.startswith('cuda') and 'CUDAExecutionProvider' not in available:
        raise PreflightError(f'device {device}: this onnxruntime has no CUDA provider '
                             f'(available: {available}); install onnxruntime-gpu')
    else:
        providers = [p for p in ('CUDAExecutionProvider', 'CPUExecutionProvider')
                     if p in available]
    return ort.InferenceSession(path, session_options(threads, optimization, spinning),
                                providers=providers)


def _size_text(shape: Sequence) -> str:
    return 'x'.join(str(d) if isinstance(d, int) else '?' for d in shape)


def check_input_size(path: str, expected: Sequence, shape: Sequence[int]):
    """Raise naming both sizes if ``shape`` (B, C, H, W) does not fit the file's ``expected``
    input shape (ints where static, names where dynamic; a static batch of 1 fits any batch)."""
    fits = len(shape) == len(expected) and all(
        not isinstance(e, int) or e == s or (i == 0 and e == 1)
        for i, (e, s) in enumerate(zip(expected, shape)))
    if not fits:
        raise ValueError(
            f'{path} was exported for inputs of size {_size_text(expected)} '
            f'(N x C x H x W), but got {_size_text(shape)}; export it again with '
            f'--shape {shape[-2]} {shape[-1]}, or with --dynamic for any size')


class OnnxRunner:
    """Runs an ONNX file's single image input on torch tensors, returning torch tensors.

    A file exported at a static size refuses inputs of another size, naming both. A file with a
    static batch of 1 runs larger batches image by image.

    Args:
        path: the ``.onnx`` file.
        threads, optimization, device: see :func:`create_session`.
    """

    def __init__(self, path: str, threads: Optional[int] = None, optimization: str = 'all',
                 device: str = 'auto'):
        self.path = path
        self.session = create_session(path, threads, optimization, device)
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            kind = ('an end-to-end file (tools/deployment/export_onnx.py --end2end)'
                    if [i.name for i in inputs] == ['images', 'image_size'] else
                    f'a file with {len(inputs)} inputs')
            raise PreflightError(f'{path} is {kind}; a raw file (the network up to its raw '
                                 'outputs, exported without --end2end) is expected here')
        self.input_name = inputs[0].name
        self.input_shape = list(inputs[0].shape)  # ints where static, names where dynamic
        self.output_names = [o.name for o in self.session.get_outputs()]

    def check_input(self, shape: Sequence[int]):
        """Raise naming both sizes if ``shape`` (B, C, H, W) does not fit the file."""
        check_input_size(self.path, self.input_shape, shape)

    def __call__(self, images: Tensor) -> List[Tensor]:
        """(B, 3, H, W) float tensor -> the graph's outputs, on ``images``' device."""
        self.check_input(tuple(images.shape))
        array = images.detach().float().cpu().numpy()
        if self.input_shape[0] == 1 and array.shape[0] > 1:
            per_image = [self.session.run(None, {self.input_name: array[i:i + 1]})
                         for i in range(array.shape[0])]
            outputs = [np.concatenate(parts) for parts in zip(*per_image)]
        else:
            outputs = self.session.run(None, {self.input_name: array})
        return [torch.from_numpy(np.ascontiguousarray(o)).to(images.device) for o in outputs]
