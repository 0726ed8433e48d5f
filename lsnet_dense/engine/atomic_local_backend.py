import glob
import os
import os.path as osp
import secrets
from pathlib import Path
from typing import Union

import mmengine
from mmengine.fileio import LocalBackend, register_backend

PARTIAL_PREFIX = '.partial-'


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def _fsync_folder(folder: str):
    """Flush a folder's entries (a rename) to disk; not possible (nor needed) on Windows."""
    if not hasattr(os, 'O_DIRECTORY'):
        return
    handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """Local files written whole or not at all.

    mmengine writes a checkpoint by opening its final path and writing into it, so a process
    killed mid-write leaves a truncated ``epoch_N.pth``. Here the bytes go to a temporary file
    ``.partial-PID.RANDOM.NAME`` in the same folder, flushed to disk and renamed over the target
    (``os.replace`` is atomic, so the path holds either the previous file or the new one), then
    the folder is flushed so that the rename itself survives a power cut. The file gets the mode
    a plain ``open`` gives (0666 less the umask), as mmengine's own backend. A process killed
    while writing leaves its temporary file behind: the next write into that folder removes
    those of processes that are no longer running.

    Use it with ``default_hooks.checkpoint.backend_args=dict(backend='atomic_local')``.
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        folder = osp.dirname(osp.abspath(filepath))
        mmengine.mkdir_or_exist(folder)
        self._remove_abandoned_partials(folder)
        temporary = osp.join(folder, f'{PARTIAL_PREFIX}{os.getpid()}.{secrets.token_hex(4)}.'
                                     f'{osp.basename(filepath)}')
        # O_EXCL with mode 0o666: the umask applies, as for open(path, 'wb').
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(handle, 'wb') as f:
                f.write(obj)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, filepath)
        except BaseException:
            os.remove(temporary)
            raise
        _fsync_folder(folder)

    @staticmethod
    def _remove_abandoned_partials(folder: str):
        for path in glob.glob(osp.join(glob.escape(folder), PARTIAL_PREFIX + '*')):
            pid = osp.basename(path)[len(PARTIAL_PREFIX):].split('.', 1)[0]
            # Files without a process id are from before ids were recorded: abandoned too.
            if pid.isdigit() and _is_running(int(pid)):
                continue
            try:
                os.remove(path)
            except FileNotFoundError:  # removed by another process meanwhile
                pass
