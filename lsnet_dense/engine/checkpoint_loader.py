"""Reading local checkpoints with torch >= 2.6 in the toolkit's own tools.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``, whose default torch 2.6 turned to
True; the checkpoints mmengine itself writes hold Python objects (the message hub's history
buffers, numpy scalars and dtypes), so ``tools/test.py`` and ``--resume`` could not read what
``tools/train.py`` saved. Allowlisting those types would need ``getattr``, which makes the
restricted unpickler as permissive as the full one, so the tools read local files with
``weights_only=False``, as mmengine's upstream fix does: load only checkpoints you trust.
Importing lsnet_dense leaves mmengine's loader as it is; the tools opt in with
:func:`trust_local_checkpoints`.
"""
import os.path as osp

import torch
from mmengine.runner import CheckpointLoader


def load_from_local(filename: str, map_location=None) -> dict:
    """mmengine's loader for local paths, with pickled metadata allowed."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch.load(filename, map_location=map_location, weights_only=False)


def trust_local_checkpoints():
    """Make mmengine's runner and inferencers read local checkpoints with
    :func:`load_from_local`, for the rest of this process."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
