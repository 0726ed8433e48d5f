"""``import lsnet_dense`` registers the toolkit's modules and changes nothing else in the process:
no warning filter installed by lsnet_dense, no checkpoint loader of mmengine replaced."""
import json
import subprocess
import sys

SCRIPT = '''
import json, sys, warnings
from mmengine.runner import CheckpointLoader

callers = []  # the modules that install warning filters during the import


def recording(install):
    def wrapper(*args, **kwargs):
        callers.append(sys._getframe(1).f_globals.get('__name__'))
        return install(*args, **kwargs)
    return wrapper


warnings.filterwarnings = recording(warnings.filterwarnings)
warnings.simplefilter = recording(warnings.simplefilter)
loaders = dict(CheckpointLoader._schemes)
import lsnet_dense
from mmdet.registry import MODELS
print(json.dumps(dict(
    filters_by_lsnet_dense=sorted({c for c in callers if c.split('.')[0] == 'lsnet_dense'}),
    loaders_replaced=sorted(p for p, loader in CheckpointLoader._schemes.items()
                            if loaders.get(p) is not loader),
    registered=MODELS.get('LSNet') is lsnet_dense.LSNet)))
'''


def test_import_changes_no_global_state():
    result = subprocess.run([sys.executable, '-c', SCRIPT], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record == dict(filters_by_lsnet_dense=[], loaders_replaced=[], registered=True)
