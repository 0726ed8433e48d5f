"""Whole-model checkpoints load strictly: every tensor there, each with the model's shape.

mmengine's ``Runner.load_checkpoint`` (``tools/test.py``, ``--resume``, ``load_from``) and the
inferencers load with ``strict=False``, which only logs what did not fit: an LSNet-S checkpoint
tested with an LSNet-T config then runs with half its weights random and reports garbage.
Here a checkpoint that does not fit is an error naming the first tensor that does not, with
both shapes. Loading a backbone's pretrained file (``init_cfg``) is not concerned: it may hold
less than the model by design.
"""
from typing import Dict

import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from torch import Tensor

from lsnet_dense.checkpoints import load_checkpoint_file, stored_state_dict, strip_wrapper_prefix
from lsnet_dense.checkpoints.conversion import to_current_layout
from lsnet_dense.errors import CheckpointMismatchError, PreflightError


def check_state_dict_fits(model: nn.Module, state_dict: Dict[str, Tensor],
                          source: str = 'the checkpoint'):
    """Raise :class:`CheckpointMismatchError` unless ``state_dict`` has exactly the model's
    tensors with the model's shapes (keys may carry a ``module.`` prefix, as mmengine allows).

    The message names the first tensor, in the model's order, that is missing or has another
    shape (both shapes given), then the first unexpected one, with counts.
    """
    stored = strip_wrapper_prefix(state_dict)
    own = model.state_dict()
    problems = []
    for key, value in own.items():
        if key not in stored:
            problems.append(f'{key} {tuple(value.shape)} is missing from the checkpoint')
        elif tuple(stored[key].shape) != tuple(value.shape):
            problems.append(f'{key} has shape {tuple(stored[key].shape)} in the checkpoint and '
                            f'{tuple(value.shape)} in the model')
    problems += [f'{key} {tuple(stored[key].shape)} is in the checkpoint but not in the model'
                 for key in stored if key not in own]
    if problems:
        more = f' (and {len(problems) - 1} more tensors that do not fit)' if len(problems) > 1 \
            else ''
        raise CheckpointMismatchError(
            f'{source} does not fit the model of this config (another variant or model?): '
            f'{problems[0]}{more}')


def read_model_checkpoint(path: str, map_location='cpu') -> dict:
    """A whole-model checkpoint, file or URL, in the mmdet 3.x / mmseg 1.x layout: a published
    mmdet 2.x / mmseg 0.x file is converted in memory (logged), as
    ``tools/model_converters/convert_checkpoint.py`` would write it."""
    checkpoint, report = to_current_layout(load_checkpoint_file(path, map_location), path)
    if report is not None:
        print_log(f'converted in memory from the mmcv 1.x layout: {report.summary()}',
                  logger='current')
    return checkpoint


def load_model_checkpoint(model: nn.Module, path: str) -> dict:
    """Load a whole-model checkpoint (file or URL; mmdet / mmseg layout, a published mmdet 2.x /
    mmseg 0.x file, or a bare state dict) strictly.

    Returns:
        The checkpoint, for its ``meta``.

    Raises:
        PreflightError: the file is missing, cannot be downloaded, or is not a checkpoint.
        CheckpointMismatchError: its tensors do not fit ``model`` (see
            :func:`check_state_dict_fits`).
    """
    try:
        checkpoint = read_model_checkpoint(path)
        state_dict = stored_state_dict(checkpoint, path)
    except (FileNotFoundError, ValueError, ConnectionError) as error:
        raise PreflightError(str(error)) from None
    check_state_dict_fits(model, state_dict, path)
    model.load_state_dict(strip_wrapper_prefix(state_dict), strict=True)
    return checkpoint


@HOOKS.register_module()
class StrictLoadHook(Hook):
    """Make the runner's whole-model loading (test, ``load_from``, resume) strict.

    ``after_load_checkpoint`` sees the checkpoint before the runner copies it into the model
    (with ``strict=False``), so a checkpoint that does not fit stops the run first.
    ``tools/train.py`` and ``tools/test.py`` add it (:func:`~.preflight.load_run_config`).
    """

    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint: dict):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        check_state_dict_fits(model, stored_state_dict(checkpoint),
                              runner.cfg.get('load_from') or 'the checkpoint')
