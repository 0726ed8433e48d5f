import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Union

import mmengine
from mmengine.fileio import LocalBackend, register_backend


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """Local files written whole or not at all.

    mmengine writes a checkpoint by opening its final path and writing into it, so a process
    killed mid-write leaves a truncated ``epoch_N.pth``. Here the bytes go to a temporary file in
    the same folder that is renamed over the target only once complete and flushed to disk;
    ``os.replace`` is atomic, so the path holds either the previous file or the new one.

    Use it with ``default_hooks.checkpoint.backend_args=dict(backend='atomic_local')``.
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        folder = osp.dirname(osp.abspath(filepath))
        mmengine.mkdir_or_exist(folder)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix='.partial-')
        try:
            with os.fdopen(handle, 'wb') as f:
                f.write(obj)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, filepath)
        except BaseException:
            os.remove(temporary)
            raise
