"""The Python objects besides tensors that checkpoints may hold when the toolkit loads them.

``torch.load(weights_only=True)`` rebuilds tensors, containers and numbers, and refuses every
other global a pickle names: a pickle can call any function while it is read. The files this
toolkit reads need a few more, each harmless to rebuild:

- the published ImageNet files (DeiT-style ``main.py``): ``args`` is an ``argparse.Namespace``;
- mmengine's saves (``tools/train.py``, mmdet 3.x, mmseg 1.x): the message hub's
  ``HistoryBuffer`` objects with numpy arrays, numpy scalars (``eta``) and dtypes, and
  ``collections.Counter`` (``MultiStepLR``'s milestones);
- the published dense files (mmcv 1.x) need nothing beyond plain types.

A ``HistoryBuffer`` also pickles references to its statistics methods as
``getattr(HistoryBuffer, 'min')``. ``getattr`` itself cannot be allowed: it would reach any
attribute of any object the pickle builds. It is replaced by :func:`history_buffer_method`,
which gives those methods and nothing else.
"""
import argparse
import collections
import pickle
from typing import Callable, List, Tuple, Union

import numpy as np

try:
    from numpy._core import multiarray
except ImportError:  # numpy < 1.26
    from numpy.core import multiarray

# The module numpy's pickles name their array and scalar constructors with: numpy 1.x writes
# ``numpy.core.multiarray``, numpy 2.x ``numpy._core.multiarray``.
NUMPY_MULTIARRAY_NAMES = ('numpy.core.multiarray', 'numpy._core.multiarray')
# HistoryBuffer's own statistics methods; the class registers them on its first instance.
HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')
# The numeric dtypes (bool, integers, floats, complex numbers) arrays and scalars may have.
NUMERIC_DTYPE_CODES = '?bBhHiIlLqQefdgFDG'

SafeGlobal = Union[Callable, Tuple[Callable, str]]


def history_buffer_method(owner, name: str):
    """``getattr(owner, name)`` for ``owner`` mmengine's ``HistoryBuffer`` and ``name`` one of
    its statistics methods (``min``, ``max``, ``current``, ``mean`` or a registered one)."""
    from mmengine.logging import HistoryBuffer

    known = {*HISTORY_BUFFER_METHODS, *HistoryBuffer._statistics_methods}
    if owner is not HistoryBuffer or name not in known:
        raise pickle.UnpicklingError(
            f'getattr({owner!r}, {name!r}) (of getattr, only the statistics methods of '
            'mmengine\'s HistoryBuffer are allowed)')
    return getattr(HistoryBuffer, name)


def checkpoint_globals() -> List[SafeGlobal]:
    """What to pass to :func:`torch.serialization.safe_globals` around a ``weights_only`` load:
    the types above, mmengine's only when mmengine is installed."""
    allowed: List[SafeGlobal] = [argparse.Namespace, collections.Counter, np.ndarray, np.dtype]
    allowed += sorted({type(np.dtype(code)) for code in NUMERIC_DTYPE_CODES}, key=str)
    for module in NUMPY_MULTIARRAY_NAMES:
        allowed += [(multiarray._reconstruct, f'{module}._reconstruct'),
                    (multiarray.scalar, f'{module}.scalar')]
    try:
        from mmengine.logging import HistoryBuffer
    except ImportError:  # the core runs on torch alone; without mmengine there are no such saves
        return allowed
    return allowed + [HistoryBuffer, (history_buffer_method, 'builtins.getattr')]
