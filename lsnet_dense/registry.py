"""Registration of lsnet_dense modules in mmdet's and mmseg's MODELS registries.

Each library builds models from its own registry (chosen by the config's ``default_scope``), so a
module registered in one only is invisible to the other's configs.
"""
from mmdet.registry import MODELS as MMDET_MODELS
from mmseg.registry import MODELS as MMSEG_MODELS


def register_model(cls: type) -> type:
    """Class decorator: register ``cls`` under its own name in both registries."""
    MMDET_MODELS.register_module(module=cls)
    MMSEG_MODELS.register_module(module=cls)
    return cls
