"""tests/data holds a copy of the published state-dict contract; it must not drift.

The contract itself lives in ``shared/reference`` beside the repository (CI clones it there):
without it this test fails rather than skips, so that CI can never pass without the check.
"""
import json
from pathlib import Path

from helpers import REFERENCE_JSON, ROOT

SHARED = (Path(ROOT).resolve().parent / 'shared' / 'reference' /
          'lsnet_official_state_dict_shapes.json')


def test_vendored_contract_equals_shared_reference():
    assert SHARED.is_file(), (f'{SHARED} not found: the shared/ checkout belongs beside the '
                              'repository (../shared), as CI places it')
    assert json.loads(REFERENCE_JSON.read_text()) == json.loads(SHARED.read_text())
