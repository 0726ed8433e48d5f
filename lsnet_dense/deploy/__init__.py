"""Deployment: ONNX export with torch's own exporter, and running the files in ONNX Runtime.

``import lsnet_dense.deploy`` needs onnx / onnxscript only for exporting and onnxruntime only for
running; both are imported when used. End-to-end files (post-processing in the graph, for
runtimes without PyTorch): :mod:`lsnet_dense.deploy.export_end2end`, run in ONNX Runtime or
OpenVINO by :mod:`lsnet_dense.deploy.backends`.
"""
from .export import (SUPPORTED_MODELS, TOLERANCE, ExportReport, export_backbone,
                     export_model)
from .onnx_config import onnx_model_config
from .runtime import OnnxRunner, create_session, import_onnxruntime, session_options
from .sidecar import read_sidecar, sidecar_path

__all__ = ['SUPPORTED_MODELS', 'TOLERANCE', 'ExportReport', 'OnnxRunner',
           'create_session', 'export_backbone', 'export_model', 'import_onnxruntime',
           'onnx_model_config', 'read_sidecar', 'session_options', 'sidecar_path']
