"""Put on PYTHONPATH by tests/test_engine/test_distributed.py: with LSNET_TEST_EXIT_PROBE=DIR
set, every Python process writes DIR/PID.json at exit (after the other atexit handlers, before
interpreter shutdown): its command line and the names of the native threads still running.

A gloo thread still running then is what aborted finished ranks now and then ("terminate called
without an active exception"): it can need the GIL while the interpreter shuts down.
"""
import atexit
import json
import os
import sys

PROBE_DIR = os.environ.get('LSNET_TEST_EXIT_PROBE')


def _record_threads():
    names = []
    for task in os.listdir('/proc/self/task'):
        try:
            with open(f'/proc/self/task/{task}/comm') as f:
                names.append(f.read().strip())
        except OSError:  # the thread ended meanwhile
            pass
    with open(os.path.join(PROBE_DIR, f'{os.getpid()}.json'), 'w') as f:
        json.dump(dict(argv=sys.argv, threads=sorted(names)), f)


if PROBE_DIR:
    atexit.register(_record_threads)  # the first registered runs last
