"""Running an ONNX file on numpy arrays in ONNX Runtime or OpenVINO, behind one interface.

The end-to-end models (:mod:`lsnet_dense.deploy.onnx_end2end`) and the export check use it;
``tools/deployment/onnx_infer.py`` has its own copy of the same few calls, since it must run
beside the ``.onnx`` with no file of this package.
"""
import os.path as osp
from typing import Dict, List, Optional

import numpy as np

from lsnet_dense.errors import PreflightError
from .runtime import create_session

BACKENDS = ('onnxruntime', 'openvino')
PRECISIONS = ('f32', 'bf16')
OPENVINO_REQUIREMENT = 'openvino==2026.4.1'


def import_openvino():
    """The ``openvino`` module, or an error saying how to install it."""
    try:
        import openvino
    except ImportError as error:
        raise PreflightError(f'openvino is not installed ({error}); install it with '
                             f'`pip install {OPENVINO_REQUIREMENT}`, as pinned in '
                             'requirements.txt') from error
    return openvino


def check_backend(backend: str, precision: str):
    if backend not in BACKENDS:
        raise PreflightError(f'unknown backend {backend!r}: use one of {", ".join(BACKENDS)}')
    if precision not in PRECISIONS:
        raise PreflightError(f'unknown precision {precision!r}: use one of '
                             f'{", ".join(PRECISIONS)}')
    if precision == 'bf16' and backend != 'openvino':
        raise PreflightError('--precision bf16 runs in OpenVINO: add --backend openvino')


class Session:
    """One ONNX file in a runtime: ``run(feeds)`` -> the outputs in the file's order.

    Args:
        path: the ``.onnx`` file.
        backend: ``'onnxruntime'`` (CPU) or ``'openvino'`` (CPU).
        precision: ``'f32'``, or ``'bf16'`` (OpenVINO, CPUs with BF16 instructions only).
        threads: intra-op threads (default: the runtime's choice).
    """

    def __init__(self, path: str, backend: str = 'onnxruntime', precision: str = 'f32',
                 threads: Optional[int] = None):
        check_backend(backend, precision)
        if not osp.isfile(path):
            raise PreflightError(f'ONNX file not found: {path}')
        self.path, self.backend, self.precision = path, backend, precision
        if backend == 'onnxruntime':
            self._session = create_session(path, threads, device='cpu')
            self.input_names = [i.name for i in self._session.get_inputs()]
            self.input_shapes = [list(i.shape) for i in self._session.get_inputs()]
            self.output_names = [o.name for o in self._session.get_outputs()]
        else:
            self._compiled = _compile_openvino(path, precision, threads)
            self.input_names = [i.any_name for i in self._compiled.inputs]
            self.input_shapes = [[d.get_length() if d.is_static else '?'
                                  for d in i.get_partial_shape()]
                                 for i in self._compiled.inputs]
            self.output_names = [o.any_name for o in self._compiled.outputs]

    def run(self, feeds: Dict[str, np.ndarray]) -> List[np.ndarray]:
        if self.backend == 'onnxruntime':
            return self._session.run(None, feeds)
        results = self._compiled(feeds)
        return [np.asarray(results[output]) for output in self._compiled.outputs]


def _compile_openvino(path: str, precision: str, threads: Optional[int]):
    openvino = import_openvino()
    core = openvino.Core()
    if precision == 'bf16':
        capabilities = core.get_property('CPU', 'OPTIMIZATION_CAPABILITIES')
        if 'BF16' not in capabilities:
            raise PreflightError(f'--precision bf16: this CPU has no BF16 instructions '
                                 f'(OpenVINO reports {", ".join(capabilities)}); use f32')
    config = {'INFERENCE_PRECISION_HINT': precision}
    if threads:
        config['INFERENCE_NUM_THREADS'] = threads
    return core.compile_model(core.read_model(path), 'CPU', config)
