from typing import Sequence, Union

import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from torch.fx.experimental import _config as fx_config

from lsnet_dense.errors import PreflightError

# The launch-bound parts of an LSNet detector or segmenter.
DEFAULT_MODULES = ('backbone', 'neck')


@HOOKS.register_module()
class CompileHook(Hook):
    """Compile parts of the model (by default the backbone and the neck) before training.

    mmengine's own ``compile`` key wraps the whole ``train_step`` in ``torch.compile``: the data
    preprocessor, target assignment and losses (data-dependent shapes, so graph breaks and new
    graphs on every batch), backward and the optimizer step. The launch-bound part of an LSNet
    model is its backbone and neck, whose graphs depend only on the padded input size. They are
    compiled in place (``nn.Module.compile``), so parameter names, state dicts and checkpoints
    stay those of the eager model.

    ``tools/train.py --compile`` (or the config key ``compile``) adds it with
    ``dynamic=True``: input sizes are symbolic from the first compile, and the graphs dynamo
    captures do not change with the padded size (``tests/test_engine/test_compile.py``).
    Inductor may still compile again for a new size (``tools/analysis_tools/train_step_ops.py``
    prints the count).

    Args:
        modules: names of the model's attributes to compile.
        **options: keyword arguments of ``torch.compile`` (``backend``, ``mode``, ``dynamic``,
            ``fullgraph``, ``options``).
    """

    priority = 'VERY_HIGH'

    def __init__(self, modules: Sequence[str] = DEFAULT_MODULES, **options):
        if isinstance(modules, str) or not modules:
            raise ValueError(f'CompileHook: modules must be a list of attribute names of the '
                             f'model, got {modules!r}')
        self.modules = tuple(modules)
        self.options = options

    def before_train(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        compile_modules(model, self.modules, **self.options)
        # Graphs are traced lazily, during the iterations: the setting holds until training ends.
        self._sizes_apart = sizes_apart()
        self._sizes_apart.__enter__()
        runner.logger.info(f'torch.compile: {", ".join(self.modules)} (options: '
                           f'{self.options or "defaults"}); the first iterations of each mode '
                           'compile and are slow')

    def after_train(self, runner):
        self._sizes_apart.__exit__(None, None, None)


def sizes_apart():
    """A context in which ``torch.compile`` gives every dynamic size its own symbol.

    By default sizes that are equal when a graph is first traced share one ("duck shaping"):
    a 2-pixel-wide coarse feature map and a batch of 2 would be tied, and the next input size
    would compile the graph again.
    """
    return fx_config.patch(use_duck_shape=False)


def compile_modules(model: nn.Module, modules: Sequence[str] = DEFAULT_MODULES, **options):
    """``torch.compile`` the children ``modules`` of ``model`` in place (``nn.Module.compile``).

    Raises:
        ValueError: naming the modules the model does not have.
    """
    missing = [name for name in modules if getattr(model, name, None) is None]
    if missing:
        raise ValueError(f'{type(model).__name__} has no {", ".join(missing)} to compile; it '
                         f'has {", ".join(name for name, _ in model.named_children())}')
    for name in modules:
        getattr(model, name).compile(**options)


def compile_hook_config(compile_cfg: Union[bool, dict]) -> dict:
    """The :class:`CompileHook` entry for mmengine's ``compile`` key (``True`` or a dict of
    ``torch.compile`` options, optionally with ``modules``); sizes are dynamic from the first
    compile unless the options say otherwise."""
    if compile_cfg is True:
        compile_cfg = {}
    if not isinstance(compile_cfg, dict):
        raise PreflightError(f'compile must be True or a dict of torch.compile options, got '
                             f'{compile_cfg!r}')
    # Padded input sizes change from batch to batch: symbolic from the start, so that the
    # first new size does not compile again.
    return dict(type='CompileHook', **{'dynamic': True, **compile_cfg})
