"""Registration of lsnet_dense modules in the MODELS registries of mmdet and mmseg.

Each library builds models from its own registry (chosen by the config's ``default_scope``), so a
module registered in one only is invisible to the other's configs. Either library may be
missing (a detection-only or segmentation-only project): modules go into the registries of those
installed. Without mmengine, or without both libraries, there is nothing to register into.
"""
import importlib
from types import ModuleType
from typing import Dict

LIBRARIES = ('mmdet', 'mmseg')


def _installed_registries() -> Dict[str, ModuleType]:
    """``{scope: scope.registry}`` for the libraries that are installed (with mmengine)."""
    registries = {}
    for scope in LIBRARIES:
        try:
            registries[scope] = importlib.import_module(f'{scope}.registry')
        except ModuleNotFoundError as error:
            if error.name not in (scope, 'mmengine'):  # installed but broken: say so
                raise
    return registries


REGISTRIES = _installed_registries()
SCOPES = tuple(REGISTRIES)  # the default_scope values this installation serves


def register_model(cls: type) -> type:
    """Class decorator: register ``cls`` under its own name in every installed library."""
    for registry in REGISTRIES.values():
        registry.MODELS.register_module(module=cls)
    return cls
