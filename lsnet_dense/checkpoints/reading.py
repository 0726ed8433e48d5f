"""Reading checkpoint files and the tensors in them, whatever wrote them: the published LSNet
release (``model``), mmdet / mmseg and mmengine (``state_dict``), or a bare state dict."""
import os.path as osp
from typing import Dict

import torch
from torch import Tensor

# What (Distributed)DataParallel puts before every key of the model it wraps.
WRAPPER_PREFIX = 'module.'


def load_checkpoint_file(path: str) -> dict:
    """Load a local checkpoint on the CPU, with errors that name the file."""
    if not osp.isfile(osp.expanduser(path)):
        raise FileNotFoundError(f'Checkpoint file not found: {path}')
    try:
        # The published files and mmengine's own saves hold pickled Python objects (argparse
        # namespaces, the message hub's history buffers): load only checkpoints you trust.
        checkpoint = torch.load(osp.expanduser(path), map_location='cpu', weights_only=False)
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


def strip_wrapper_prefix(state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """The keys without the ``module.`` of a (Distributed)DataParallel wrapper, values as they
    are."""
    return {key.removeprefix(WRAPPER_PREFIX): value for key, value in state_dict.items()}
