"""torchrun whose agents give up waiting for one another at exit after a bound, not 300 s.

    python tools/torchrun.py [torchrun options] SCRIPT [script options]

Once its own workers succeeded, torchrun's agent on each node waits at an exit barrier for the
agents of all other nodes, for up to 300 s; an agent whose worker failed leaves without reaching
it. So one rank that died after its work was done held every other node of the job for five
minutes before the job was seen to fail. torch offers no option for that wait, so this entry
point starts torchrun unchanged but for that bound: ``LSNET_DENSE_EXIT_BARRIER_TIMEOUT`` seconds
(default 30). That is enough for agents whose workers succeeded, since the ranks of
``tools/train.py`` and ``tools/test.py`` meet at a barrier before they end
(:func:`lsnet_dense.engine.teardown_distributed`). ``tools/dist_train.sh`` and
``tools/dist_test.sh`` start jobs through it. It imports torch alone, not this package, so that
the launcher on each node starts in seconds.
"""
import functools
import os
import sys

from torch.distributed import run
from torch.distributed.launcher import api

TIMEOUT_VARIABLE = 'LSNET_DENSE_EXIT_BARRIER_TIMEOUT'
DEFAULT_TIMEOUT_S = 30.0


def exit_barrier_timeout() -> float:
    value = os.environ.get(TIMEOUT_VARIABLE, str(DEFAULT_TIMEOUT_S))
    try:
        timeout = float(value)
    except ValueError:
        timeout = -1.0
    if timeout <= 0:
        sys.exit(f'error: {TIMEOUT_VARIABLE}={value!r} is not a positive number of seconds')
    return timeout


def main() -> None:
    # launch_agent() builds its agent through this module-level name, in this process only.
    api.LocalElasticAgent = functools.partial(api.LocalElasticAgent,
                                              exit_barrier_timeout=exit_barrier_timeout())
    run.main()


if __name__ == '__main__':
    main()
