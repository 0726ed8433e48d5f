"""Whole-model checkpoints load strictly: every tensor there, each with the model's shape.

mmengine's ``Runner.load_checkpoint`` (``tools/test.py``, ``--resume``, ``load_from``) and the
inferencers load with ``strict=False``, which only logs what did not fit: an LSNet-S checkpoint
tested with an LSNet-T config then runs with half its weights random and reports garbage.
Here a checkpoint that does not fit is an error naming the first tensor that does not, with
both shapes. Loading a backbone's pretrained file (``init_cfg``) is not concerned: it may hold
less than the model by design.

Fine-tuning (``load_from`` in ``tools/train.py``, without ``--resume``) is the one exception: a
checkpoint trained on other classes differs in the layers whose shapes follow the class count
(:data:`CLASS_DEPENDENT_LAYERS`), which are then re-initialised, with a log line naming them;
everything else must still fit, and a class layer missing from the checkpoint is still an error.
"""
import logging
from typing import Dict, List

import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from torch import Tensor

from lsnet_dense.checkpoints import load_checkpoint_file, stored_state_dict, strip_wrapper_prefix
from lsnet_dense.checkpoints.conversion import to_current_layout
from lsnet_dense.checkpoints.reading import WRAPPER_PREFIX
from lsnet_dense.errors import CheckpointMismatchError, PreflightError

# The layers (module names) of mmdet's / mmseg's heads whose shapes follow the number of classes:
# the class scores, and Mask R-CNN's per-class boxes and masks. Fine-tuning on other classes
# re-initialises them; the rest of a head (its convolutions, the box regression of RetinaNet)
# must fit as the backbone and neck must.
CLASS_DEPENDENT_LAYERS = ('bbox_head.retina_cls', 'roi_head.bbox_head.fc_cls',
                          'roi_head.bbox_head.fc_reg', 'roi_head.mask_head.conv_logits',
                          'decode_head.conv_seg', 'auxiliary_head.conv_seg')


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


def keep_model_class_layers(model: nn.Module, state_dict: Dict[str, Tensor]) -> List[str]:
    """Replace in ``state_dict``, in place, each tensor of :data:`CLASS_DEPENDENT_LAYERS` whose
    shape differs from the model's by the model's own (freshly initialised) one.

    Replaced rather than dropped: the runner then copies the model's values back into it, and its
    ``strict=False`` loading has no missing keys to warn about; :func:`check_state_dict_fits`
    still holds the rest of the checkpoint to the model. A class layer missing from the
    checkpoint stays missing (an error there): only a shape that differs is re-initialised.

    Returns:
        Per replaced tensor, ``NAME (checkpoint shape) in the checkpoint, (model shape) in the
        model``.
    """
    own = model.state_dict()
    replaced = []
    for key, value in state_dict.items():
        name = key.removeprefix(WRAPPER_PREFIX)
        if (name.rpartition('.')[0] in CLASS_DEPENDENT_LAYERS and name in own
                and tuple(value.shape) != tuple(own[name].shape)):
            replaced.append(f'{name} {tuple(value.shape)} in the checkpoint, '
                            f'{tuple(own[name].shape)} in the model')
            state_dict[key] = own[name].clone()
    return replaced


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
    ``tools/train.py`` and ``tools/test.py`` add it (:func:`~.run_config.load_run_config`).

    Args:
        allow_new_classes: fine-tuning on other classes: re-initialise the layers of
            :data:`CLASS_DEPENDENT_LAYERS` whose shapes differ (one log line names them),
            everything else still strict. ``tools/train.py`` sets it for ``load_from`` without
            ``--resume``; testing and resuming need the checkpoint's own classes.
    """

    priority = 'VERY_HIGH'

    def __init__(self, allow_new_classes: bool = False):
        self.allow_new_classes = allow_new_classes

    def after_load_checkpoint(self, runner, checkpoint: dict):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        source = runner.cfg.get('load_from') or 'the checkpoint'
        state_dict = stored_state_dict(checkpoint, source)
        if self.allow_new_classes:
            replaced = keep_model_class_layers(model, state_dict)
            if replaced:
                print_log(f'load_from {source}: fine-tuning: re-initialised the class-dependent '
                          f'layers that differ in shape: {"; ".join(replaced)}',
                          logger='current', level=logging.WARNING)
        check_state_dict_fits(model, state_dict, source)
