"""tests/data holds a copy of the published state-dict contract; it must not drift."""
import json
from pathlib import Path

import pytest

from conftest import REFERENCE_JSON

SHARED = (Path(__file__).resolve().parents[2] / 'shared' / 'reference' /
          'lsnet_official_state_dict_shapes.json')


@pytest.mark.skipif(not SHARED.is_file(), reason='no shared/ checkout beside the repository')
def test_vendored_contract_equals_shared_reference():
    assert json.loads(REFERENCE_JSON.read_text()) == json.loads(SHARED.read_text())
