"""lsnet_dense: LSNet backbones and necks for mmdet 3.x and mmseg 1.x.

Importing the package registers ``LSNet`` and ``LSNetFPN`` in both libraries' MODELS registries,
so a config only needs ``custom_imports=dict(imports=['lsnet_dense'])``.
"""
from . import engine  # noqa: F401  registers hooks
from .models import LSNet, LSNetFPN
from .version import __version__

__all__ = ['LSNet', 'LSNetFPN', '__version__']
