"""lsnet_dense: LSNet backbones and necks for mmdet 3.x and mmseg 1.x.

Importing the package registers ``LSNet`` and ``LSNetFPN`` in the MODELS registries of mmdet and
mmseg, whichever are installed (at least one; see :mod:`lsnet_dense.registry`), and the
toolkit's hooks, metrics and transforms, so a config only needs
``custom_imports=dict(imports=['lsnet_dense'])``.
"""
from .warning_filters import silence_third_party_warnings

silence_third_party_warnings()  # before anything below imports the OpenMMLab stack

from . import engine, evaluation  # noqa: E402,F401  registers hooks and metrics
from .models import LSNet, LSNetFPN  # noqa: E402
from .version import __version__  # noqa: E402

__all__ = ['LSNet', 'LSNetFPN', '__version__']
