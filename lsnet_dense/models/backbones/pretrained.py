"""Fitting published LSNet checkpoints to an LSNet backbone's state dict.

Three layouts are recognised:

* ImageNet classification (``lsnet_t.pth`` ...): the model under ``model``, possibly with a
  ``module.`` prefix, a ``head`` / ``head_dist`` to ignore and 4x4 attention-bias tables;
* detection / segmentation (mmdet / mmseg): ``state_dict`` with the backbone under ``backbone.``;
* a bare backbone state dict.
"""
import logging
import sys
from typing import Dict, List, Tuple

import torch.nn as nn
from torch import Tensor

from lsnet_dense.checkpoints import load_checkpoint_file, stored_state_dict, strip_wrapper_prefix
from ..layers.attention import resize_attention_biases

CLASSIFICATION_HEADS = ('head.', 'head_dist.')


def extract_backbone_state_dict(checkpoint: dict, source: str = 'checkpoint'
                                ) -> Tuple[Dict[str, Tensor], List[str]]:
    """The backbone's tensors of a published checkpoint of any recognised layout.

    Args:
        checkpoint: what ``torch.load`` returned.
        source: the file name, for error messages.

    Returns:
        ``(state_dict, dropped)``: backbone tensors keyed as in :class:`LSNet`, and the keys that
        were left out (heads, necks, non-backbone parts).
    """
    state_dict = strip_wrapper_prefix(stored_state_dict(checkpoint, source))
    has_backbone_prefix = any(k.startswith('backbone.') for k in state_dict)
    kept, dropped = {}, []
    for key, value in state_dict.items():
        if has_backbone_prefix:
            if key.startswith('backbone.'):
                kept[key[len('backbone.'):]] = value
            else:
                dropped.append(key)
        elif key.startswith(CLASSIFICATION_HEADS):
            dropped.append(key)
        else:
            kept[key] = value
    return kept, dropped


def adapt_state_dict(state_dict: Dict[str, Tensor], target: Dict[str, Tensor],
                     source: str = 'checkpoint') -> Tuple[Dict[str, Tensor], List[str]]:
    """Fit a backbone state dict to a model's: resize bias tables, use the model's bias indices.

    Args:
        state_dict: tensors from :func:`extract_backbone_state_dict`.
        target: the model's own ``state_dict()``.
        source: the file name, for error messages.

    Returns:
        ``(state_dict, notes)`` where notes describe each conversion made.

    Raises:
        ValueError: a tensor's shape differs from the model's (the message names the key and both
            shapes; usually a checkpoint of another variant).
    """
    adapted, notes, mismatches = {}, [], []
    # In the model's order, so that errors start with the first layers.
    ordered = [k for k in target if k in state_dict] + [k for k in state_dict if k not in target]
    for key in ordered:
        value = state_dict[key]
        if key.endswith('attention_bias_idxs') and key in target:
            # The index is a pure function of the grid size; the model's own is always right.
            adapted[key] = target[key]
            continue
        if key in target and value.shape != target[key].shape:
            if key.endswith('attention_biases') and value.shape[0] == target[key].shape[0]:
                value = resize_attention_biases(value, target[key].shape[1])
                notes.append(f'{key}: resized {tuple(state_dict[key].shape)} -> '
                             f'{tuple(value.shape)}')
            else:
                mismatches.append(f'{key}: checkpoint {tuple(value.shape)} vs model '
                                  f'{tuple(target[key].shape)}')
                continue
        adapted[key] = value
    if mismatches:
        raise ValueError(f'{source} does not fit this LSNet (another variant?); shape mismatch '
                         f'in {len(mismatches)} tensors:\n  ' + '\n  '.join(mismatches[:10]))
    return adapted, notes


def load_pretrained(backbone: nn.Module, path: str):
    """Load the backbone tensors of the checkpoint at ``path`` into ``backbone`` (an LSNet).

    Heads, necks and other non-backbone entries are left out, attention-bias tables resized to
    the backbone's grid; tensors the file lacks keep their values and are logged, as are
    unexpected ones.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is not a checkpoint, holds no LSNet weights, is of another variant
            (the message names the first tensor and both shapes), or lacks tensors of a
            ``deploy=True`` backbone (an unfused file for the folded form).
    """
    own = backbone.state_dict()
    state_dict, dropped = extract_backbone_state_dict(load_checkpoint_file(path), path)
    state_dict, notes = adapt_state_dict(state_dict, own, path)
    matched = set(state_dict) & set(own)
    if not matched:
        raise ValueError(f'{path} holds no LSNet backbone weights (none of its '
                         f'{len(state_dict)} keys, e.g. {sorted(state_dict)[:3]}, is a '
                         'parameter of LSNet)')
    _log(f'LSNet: loading {len(matched)} tensors from {path}; ignored {len(dropped)} '
         f'non-backbone entries; {len(notes)} attention-bias tables resized')
    missing = [key for key in own if key not in state_dict]
    unexpected = [key for key in state_dict if key not in own]
    if getattr(backbone, 'deploy', False) and missing:
        # An unfused file would leave most of the folded convolutions as initialised.
        raise ValueError(
            f'{path} does not hold the folded (deploy) form this LSNet(deploy=True) has: it '
            f'lacks {len(missing)} of its tensors, e.g. {missing[0]}. Load it into '
            'LSNet(deploy=False) and call switch_to_deploy(), or fold a detector / segmenter '
            'checkpoint with tools/model_converters/reparameterize.py')
    backbone.load_state_dict(state_dict, strict=False)
    if missing:
        _log(f'LSNet: missing keys in {path} (left as initialised): ' + ', '.join(missing),
             logging.WARNING)
    if unexpected:
        _log(f'LSNet: unexpected keys in {path} (ignored): ' + ', '.join(unexpected),
             logging.WARNING)


def _log(message: str, level: int = logging.INFO):
    # Inside an mmengine run the message belongs in the run's log; the core itself does not
    # import mmengine.
    mmengine_logging = sys.modules.get('mmengine.logging')
    if mmengine_logging is not None:
        mmengine_logging.print_log(message, logger='current', level=level)
    else:
        logging.getLogger(__name__).log(level, message)
