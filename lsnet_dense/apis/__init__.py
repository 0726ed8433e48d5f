"""Models from configs, for inference and analysis, and their deploy form."""
from lsnet_dense.models.deploy import deploy_model
from .model_builder import build_model_from_config

__all__ = ['build_model_from_config', 'deploy_model']
