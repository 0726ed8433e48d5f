"""Reading checkpoint files and the tensors in them, whatever wrote them: the published LSNet
release (``model``), mmdet / mmseg and mmengine (``state_dict``), or a bare state dict.

Every file is read with ``torch.load(weights_only=True)`` and the allowlist of
:mod:`.allowlist`, scoped to the call: a pickle that names any other global is refused before it
can run anything. Loading a file that needs more is an explicit choice: ``trust=True``, the
tools' ``--trust-checkpoint`` or ``LSNET_DENSE_TRUST_CHECKPOINTS=1``, with a warning each time.
"""
import logging
import os
import os.path as osp
import pickle
import re
from typing import Dict, Optional

import torch
from torch import Tensor

from lsnet_dense.errors import UntrustedCheckpointError
from .allowlist import checkpoint_globals
from .download import cached_download, is_url

# What (Distributed)DataParallel puts before every key of the model it wraps.
WRAPPER_PREFIX = 'module.'
TRUST_ENV = 'LSNET_DENSE_TRUST_CHECKPOINTS'
# What torch.load(weights_only=True) says when it refuses what a pickle asks for, rather than data
# that is no pickle at all ("Unsupported operand").
REFUSALS = re.compile(r'GLOBAL (\S+)|(unrecognized function .*|getattr\(.*|.*allowlisted.*)')

logger = logging.getLogger(__name__)


def trusted_by_environment() -> bool:
    """Whether ``LSNET_DENSE_TRUST_CHECKPOINTS`` says to load checkpoints with full pickle."""
    return os.environ.get(TRUST_ENV, '').lower() in ('1', 'true', 'yes')


def _refused(error: pickle.UnpicklingError) -> Optional[str]:
    """What a pickle asked for that ``weights_only`` refused, or None if it was no pickle."""
    found = REFUSALS.search(str(error))
    if not found:
        return None
    return f'the global {found.group(1)}' if found.group(1) else found.group(2).strip()


def _refusal(path: str, refused: str) -> UntrustedCheckpointError:
    return UntrustedCheckpointError(
        f'{path}: refused to load: its pickle asks for {refused}, which is not among the types '
        'checkpoints of LSNet, mmengine, mmdet and mmseg hold. Unpickling it could run code. '
        'Load only a file you trust: then pass --trust-checkpoint to the tool, or set '
        f'{TRUST_ENV}=1 (each load warns), or trust=True in Python')


def load_checkpoint_file(path: str, map_location='cpu', trust: Optional[bool] = None) -> dict:
    """Load a checkpoint (on the CPU by default), with errors that name the file.

    Args:
        path: the ``.pth`` file, or its URL (downloaded once, see :func:`.cached_download`).
        map_location: as for :func:`torch.load`.
        trust: unpickle everything the file holds (``weights_only=False``). ``None`` leaves it
            to ``LSNET_DENSE_TRUST_CHECKPOINTS``.

    Raises:
        FileNotFoundError: there is no such file.
        ConnectionError: the URL could not be downloaded.
        UntrustedCheckpointError: the pickle needs a global outside the allowlist.
        ValueError: the file is not a checkpoint (truncated, another format, not a dict).
    """
    if is_url(path):
        path = cached_download(path)
    if not osp.isfile(osp.expanduser(path)):
        raise FileNotFoundError(f'Checkpoint file not found: {path}')
    trusted = trusted_by_environment() if trust is None else trust
    try:
        if trusted:
            logger.warning('%s: loading with full unpickling (weights_only=False) because it '
                           'is trusted (--trust-checkpoint or %s): its pickle may run any '
                           'code', path, TRUST_ENV)
            checkpoint = torch.load(osp.expanduser(path), map_location=map_location,
                                    weights_only=False)
        else:
            with torch.serialization.safe_globals(checkpoint_globals()):
                checkpoint = torch.load(osp.expanduser(path), map_location=map_location,
                                        weights_only=True)
    except pickle.UnpicklingError as error:
        refused = _refused(error)
        if refused:
            raise _refusal(path, refused) from None
        detail = str(error).partition('WeightsUnpickler error:')[2].strip() or str(error)
        raise ValueError(f'{path} is not a readable PyTorch checkpoint (UnpicklingError: '
                         f'{detail.splitlines()[0]})') from None
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
