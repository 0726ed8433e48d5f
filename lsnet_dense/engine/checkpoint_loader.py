"""Reading local checkpoints with torch >= 2.6.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``, whose default torch 2.6 turned to
True; the checkpoints mmengine itself writes hold Python objects (the message hub's history
buffers, numpy scalars and dtypes), so ``tools/test.py`` and ``--resume`` could not read what
``tools/train.py`` saved. Allowlisting those types would need ``getattr``, which makes the
restricted unpickler as permissive as the full one, so local files are read with
``weights_only=False``, as mmengine's upstream fix does: load only checkpoints you trust.
"""
import os.path as osp

import torch
from mmengine.runner import CheckpointLoader


@CheckpointLoader.register_scheme(prefixes='', force=True)
def load_from_local(filename: str, map_location=None) -> dict:
    """mmengine's loader for local paths, with pickled metadata allowed."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch.load(filename, map_location=map_location, weights_only=False)
