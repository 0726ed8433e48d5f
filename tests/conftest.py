"""Set-up of the whole test run. It stays at the top of tests/: pytest's default (prepend)
import mode puts this file's folder on sys.path, which is how the test modules in every
subfolder import ``helpers`` and ``reference_lsnet``."""
import json
import os
import shutil
import tempfile

import pytest

from helpers import REFERENCE_JSON
from lsnet_dense.datasets import generate_demo_coco
from lsnet_dense.engine import use_safe_checkpoint_loading
from lsnet_dense.warning_filters import filterwarnings_lines


# Where downloads of the Hugging Face Hub go in tests unless a test serves files itself: a local
# port that refuses connections, so that no test reaches the internet.
UNREACHABLE_HUB = 'http://127.0.0.1:9'


def pytest_configure(config):
    """The tools' set-up, for the tools the tests run in this process: the package's filters of
    third-party warnings (as pytest lines: it resets filters per test), and mmengine reading
    checkpoints through the toolkit's allowlist.

    And no internet, nor the user's download caches: ``HF_ENDPOINT`` points at a port that
    refuses connections, ``TORCH_HOME`` and ``HF_HOME`` at folders of this run. Set here, before
    any test module imports huggingface_hub (which reads them on import), and inherited by the
    processes the tests start.
    """
    cache = tempfile.mkdtemp(prefix='lsnet_dense_test_cache_')
    config.add_cleanup(lambda: shutil.rmtree(cache, ignore_errors=True))
    os.environ.update(HF_ENDPOINT=UNREACHABLE_HUB, TORCH_HOME=os.path.join(cache, 'torch'),
                      HF_HOME=os.path.join(cache, 'huggingface'))
    use_safe_checkpoint_loading()
    for line in filterwarnings_lines():
        config.addinivalue_line('filterwarnings', line)
    config.addinivalue_line('markers', 'slow: left out of `make test` to keep it under 12 minutes '
                            'on 2 cores; `make test-all` runs them')


@pytest.fixture(scope='session')
def reference_shapes():
    """Parameter names and shapes of the published checkpoints (the compatibility contract)."""
    return json.loads(REFERENCE_JSON.read_text())


@pytest.fixture(scope='module')
def tiny_coco(tmp_path_factory):
    """A demo COCO folder of 4 train and 2 val images of 64x64, made once per test module."""
    root = str(tmp_path_factory.mktemp('coco'))
    generate_demo_coco(root, num_train=4, num_val=2, height=64, width=64, seed=4)
    return root
