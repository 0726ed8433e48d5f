"""The OpenMMLab side of lsnet_dense: ``import lsnet_dense`` imports it when mmengine and mmdet
and/or mmseg are installed, so that a config's ``custom_imports=dict(imports=['lsnet_dense'])``
finds ``LSNet`` and ``LSNetFPN`` in the MODELS registries, and the toolkit's hooks, optimiser
wrappers and metrics in theirs."""
from .registry import SCOPES, register_model

if not SCOPES:
    raise ImportError(
        'lsnet_dense.openmmlab needs mmengine with mmdet (detection) or mmsegmentation '
        '(segmentation), and neither is installed: pip install -e "/path/to/lsnet_dense[mmdet]" '
        'and/or "[mmseg]" (the tested versions are in requirements.txt)')

from . import engine, evaluation  # noqa: E402,F401  their modules register themselves
from .models import LSNet  # noqa: E402
from .models.necks import LSNetFPN  # noqa: E402

register_model(LSNet)

__all__ = ['LSNet', 'LSNetFPN']
