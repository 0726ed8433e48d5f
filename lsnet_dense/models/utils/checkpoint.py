"""Reading published LSNet checkpoints into an LSNet backbone's state dict.

Three layouts are recognised:

* ImageNet classification (``lsnet_t.pth`` ...): the model under ``model``, possibly with a
  ``module.`` prefix, a ``head`` / ``head_dist`` to ignore and 4x4 attention-bias tables;
* detection / segmentation (mmdet / mmseg): ``state_dict`` with the backbone under ``backbone.``;
* a bare backbone state dict.
"""
import math
from typing import Dict, List, Tuple

import torch
import torch.nn.functional as F
from mmengine.runner import CheckpointLoader
from torch import Tensor

CLASSIFICATION_HEADS = ('head.', 'head_dist.')


def load_checkpoint_file(path: str) -> dict:
    """Load a checkpoint on the CPU, with errors that name the file."""
    try:
        checkpoint = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    except FileNotFoundError as error:
        raise FileNotFoundError(f'Checkpoint file not found: {path}') from error
    except Exception as error:  # torch.load raises many types for a file that is not a checkpoint
        raise ValueError(f'{path} is not a readable PyTorch checkpoint '
                         f'({type(error).__name__}: {error})') from error
    if not isinstance(checkpoint, dict):
        raise ValueError(f'{path} is not a checkpoint: it holds a {type(checkpoint).__name__}, '
                         'not a dict of tensors')
    return checkpoint


def stored_state_dict(checkpoint: dict, source: str = 'checkpoint') -> Dict[str, Tensor]:
    """The tensors of a checkpoint: under ``model`` (classification), under ``state_dict``
    (mmdet / mmseg) or the checkpoint itself (a bare state dict), keys unchanged."""
    if isinstance(checkpoint.get('model'), dict):
        state_dict = checkpoint['model']
    elif isinstance(checkpoint.get('state_dict'), dict):
        state_dict = checkpoint['state_dict']
    else:
        state_dict = checkpoint
    not_tensors = [k for k, v in state_dict.items() if not isinstance(v, Tensor)]
    if not_tensors:
        raise ValueError(f'{source} is not a model checkpoint: entries {not_tensors[:5]} are not '
                         'tensors')
    return state_dict


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
    state_dict = stored_state_dict(checkpoint, source)
    state_dict = {k[len('module.'):] if k.startswith('module.') else k: v
                  for k, v in state_dict.items()}
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


def resize_attention_biases(table: Tensor, num_offsets: int) -> Tensor:
    """Resize a ``(heads, r*r)`` relative-position bias table to ``(heads, num_offsets)``.

    The table is an ``r x r`` image per head (offsets in row-major order), resized bicubically.
    """
    heads, stored = table.shape
    src, dst = math.isqrt(stored), math.isqrt(num_offsets)
    if src * src != stored or dst * dst != num_offsets:
        raise ValueError(f'attention bias tables must cover square grids, got {stored} -> '
                         f'{num_offsets} offsets')
    image = table.reshape(1, heads, src, src).float()
    resized = F.interpolate(image, size=(dst, dst), mode='bicubic', align_corners=False)
    return resized.reshape(heads, num_offsets).to(table.dtype)


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
