"""Command-line plumbing shared by the scripts in tools/.

What a tool sets up as it starts, the launcher options of ``tools/train.py`` and
``tools/test.py`` and how they build their runner, how a tool stops on this toolkit's errors, and
how the demos run the other tools.
"""
import argparse
import collections
import contextlib
import os
import os.path as osp
import subprocess
import sys
from typing import Callable, Optional

from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from lsnet_dense.checkpoints import TRUST_ENV
from lsnet_dense.engine import use_safe_checkpoint_loading
from lsnet_dense.errors import PreflightError
from lsnet_dense.warning_filters import silence_third_party_warnings

# PyTorch threads of the processes a demo starts: on a quiet 2-core CPU two threads train the
# demos 1.6x faster than one; more than the cores only make threads wait for each other.
DEFAULT_THREADS = min(2, len(os.sched_getaffinity(0)))
FAILURE_TAIL_LINES = 40


def set_up_tool_process(trust_checkpoints: bool = False):
    """What importing lsnet_dense leaves to the tools: silence the third-party warnings a user
    cannot act on, and make mmengine read checkpoints with the toolkit's allowlist (see
    :mod:`lsnet_dense.engine.checkpoint_loader`).

    ``trust_checkpoints``: the tool's ``--trust-checkpoint``; this process and the ranks it
    starts then unpickle checkpoints fully, with a warning at each load.
    """
    silence_third_party_warnings()
    use_safe_checkpoint_loading()
    if trust_checkpoints:
        os.environ[TRUST_ENV] = '1'


def add_trust_checkpoint_argument(parser: argparse.ArgumentParser):
    """``--trust-checkpoint``, for the tools that read checkpoints."""
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='load checkpoints that need more than tensors and the types '
                        'LSNet, mmengine, mmdet and mmseg save (full unpickling, which can run '
                        f'code: only for files you trust; as {TRUST_ENV}=1)')


def parse_with_launcher(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """``parser``'s arguments plus the launcher options of mmdet's and mmseg's tools."""
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher (pytorch for torchrun)')
    # torchrun sets LOCAL_RANK itself; torch.distributed.launch passes --local_rank instead.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_runner(cfg: Config) -> Runner:
    """The config's runner, as mmdet's and mmseg's tools build it: its own ``runner_type`` if it
    names one, else mmengine's :class:`Runner`."""
    return RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)


@contextlib.contextmanager
def exit_on_error(*also: type):
    """Stop the tool with ``error: MESSAGE`` and exit status 1 on a :class:`PreflightError`
    (a checkpoint mismatch included) or an exception of the types ``also``.

    These are problems with the user's files or arguments: the message says what to do, a
    traceback would only bury it.
    """
    try:
        yield
    except (PreflightError, *also) as error:
        sys.exit(f'error: {error}')


def run_tool(*args: str, cwd: str, threads: int,
             progress: Optional[Callable[[str], None]] = None):
    """Run ``python ARGS`` (a tool and its arguments) in ``cwd``; stop the caller if it fails.

    ``threads``: its ``OMP_NUM_THREADS``. Without ``progress`` its output streams through. With
    it, each output line goes to ``progress`` instead, and only when the tool fails are its last
    lines shown.
    """
    command = [sys.executable, *args]
    print('  $ ' + ' '.join(command), flush=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    if progress is None:
        if subprocess.run(command, cwd=cwd, env=env).returncode:
            sys.exit(f'error: {args[0]} failed; see its output above')
        return
    tail = collections.deque(maxlen=FAILURE_TAIL_LINES)
    with subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True) as process:
        for line in process.stdout:
            tail.append(line)
            progress(line)
    if process.returncode:
        sys.stdout.write(''.join(tail))
        sys.exit(f'error: {args[0]} failed; its last lines are above')


def read_last_checkpoint(work_dir: str) -> str:
    """The checkpoint a finished training run saved last (mmengine names it in
    ``WORK_DIR/last_checkpoint``)."""
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()
