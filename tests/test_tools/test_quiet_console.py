"""A tool's console holds no third-party deprecation noise, and the filters stay narrow."""
import os
import re
import subprocess
import sys
import warnings

import pytest

from lsnet_dense.warning_filters import THIRD_PARTY_WARNINGS, silence_third_party_warnings
from helpers import ROOT


def test_tool_output_has_no_pkg_resources_line(tmp_path):
    """get_flops reads a config with `mmdet::` bases (mmengine's pkg_resources look-up) and
    builds a RetinaNet; warnings are shown as Python shows them by default."""
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONWARNINGS'}
    result = subprocess.run(
        [sys.executable, 'tools/analysis_tools/get_flops.py', 'configs/retinanet_lsnet_t_coco.py',
         '--shape', '64', '64'], cwd=ROOT, capture_output=True, text=True,
        env=dict(env, OMP_NUM_THREADS='1'))
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert 'pkg_resources' not in output
    assert 'Warning' not in output, output[-3000:]


def own_module(module_regex):
    """A module name the filter's module regex matches: its first alternative, unescaped."""
    return module_regex.strip('()$').split('|')[0].replace('\\', '')


@pytest.mark.parametrize('message,category,module', THIRD_PARTY_WARNINGS)
def test_filters_are_narrow(message, category, module):
    """Each filter silences its message from its module only; elsewhere the message shows."""
    text = message.replace('\\', '')
    source = own_module(module)
    assert re.match(module, source), source
    with warnings.catch_warnings(record=True) as shown:
        # 'always' first, so that only the filters installed below can hide a warning (pytest's
        # own copies of them, from conftest, are overridden).
        warnings.simplefilter('always')
        silence_third_party_warnings()
        warnings.warn_explicit(text, category, 'x.py', 1, module=source)
        assert shown == [], f'{text!r} from {source} was not silenced'
        warnings.warn_explicit(text, category, 'x.py', 1, module='some_user_module')
    assert [str(w.message) for w in shown] == [text]
