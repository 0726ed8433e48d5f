"""lsnet_dense: LSNet backbones and necks for mmdet 3.x and mmseg 1.x.

Importing the package registers ``LSNet`` and ``LSNetFPN`` in both libraries' MODELS registries
(and the toolkit's hooks, metrics and transforms), so a config only needs
``custom_imports=dict(imports=['lsnet_dense'])``.
"""
from . import engine, evaluation  # noqa: F401  registers hooks and metrics
from .models import LSNet, LSNetFPN
from .version import __version__

__all__ = ['LSNet', 'LSNetFPN', '__version__']
