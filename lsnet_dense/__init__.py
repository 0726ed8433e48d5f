"""lsnet_dense: LSNet backbones and necks for mmdet 3.x and mmseg 1.x.

The model itself (:mod:`lsnet_dense.models`, :mod:`lsnet_dense.ops`) needs torch alone. Where
mmengine and mmdet and/or mmseg are installed, importing the package also registers ``LSNet``
and ``LSNetFPN`` in their MODELS registries, and the toolkit's hooks and metrics (see
:mod:`lsnet_dense.openmmlab`), so a config only needs
``custom_imports=dict(imports=['lsnet_dense'])``. Importing it changes nothing else.
"""
from .models import LSNet, LSNetClassifier
from .registry import SCOPES
from .version import __version__

__all__ = ['LSNet', 'LSNetClassifier', '__version__']

if SCOPES:
    from .openmmlab import LSNetFPN  # noqa: F401
    __all__.append('LSNetFPN')
