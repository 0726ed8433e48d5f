"""The model without OpenMMLab: ``import lsnet_dense``, timm's models, loading the published
classifier files and the equality with the published implementation, in an interpreter where
mmengine, mmcv, mmdet and mmseg cannot be imported (as if they were not installed)."""
import json
import os
import subprocess
import sys
import textwrap

from helpers import REFERENCE_JSON, TESTS

OPENMMLAB = ('mmengine', 'mmcv', 'mmdet', 'mmseg')

SCRIPT = textwrap.dedent('''
    import importlib.abc, json, sys

    class Missing(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split('.')[0] in {blocked!r}:
                raise ModuleNotFoundError(f'No module named {{name!r}}', name=name)

    sys.meta_path.insert(0, Missing())

    import torch
    import lsnet_dense
    imported = sorted(m for m in sys.modules if m.split('.')[0] in {blocked!r})

    import timm
    import lsnet_dense.timm_models  # noqa: F401  registers lsnet_t/s/b
    from helpers import calibrate_batchnorm, random_state_dict
    from reference_lsnet import lsnet_forward

    shapes = json.load(open({reference!r}))
    features = timm.create_model('lsnet_t', features_only=True).eval()
    with torch.no_grad():
        levels = [list(f.shape) for f in features(torch.randn(1, 3, 128, 128))]

    # The published classifier's structure: 'model', keys prefixed by DDP's module.
    stored = random_state_dict(shapes['classification']['lsnet_t'])
    torch.save({{'model': {{'module.' + k: v for k, v in stored.items()}}}}, sys.argv[1])
    classifier = timm.create_model('lsnet_t', pretrained=True,
                                   pretrained_cfg_overlay=dict(file=sys.argv[1]))
    loaded = all(torch.equal(classifier.state_dict()[k], v) for k, v in stored.items())

    backbone = lsnet_dense.LSNet('t')
    backbone.load_state_dict(random_state_dict(shapes['backbone_detection']['lsnet_t']))
    backbone = calibrate_batchnorm(backbone, torch.randn(4, 3, 96, 96)).double()
    x = torch.randn(2, 3, 97, 131, dtype=torch.float64)
    with torch.no_grad():
        errors = [float((out - ref).abs().max() / ref.abs().max())
                  for out, ref in zip(backbone(x), lsnet_forward(backbone.state_dict(), x))]
    print(json.dumps(dict(imported=imported, levels=levels, loaded=loaded, errors=errors)))
''')


def test_model_timm_and_published_files_without_openmmlab(tmp_path):
    script = SCRIPT.format(blocked=OPENMMLAB, reference=str(REFERENCE_JSON))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [TESTS,
                                                                    os.environ.get('PYTHONPATH')])))
    result = subprocess.run([sys.executable, '-c', script, str(tmp_path / 'lsnet_t.pth')],
                            capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads(result.stdout.strip().splitlines()[-1])
    print('OpenMMLab modules imported by `import lsnet_dense`:', record['imported'])
    assert record['imported'] == []
    assert record['levels'] == [[1, 64, 16, 16], [1, 128, 8, 8], [1, 256, 4, 4], [1, 384, 2, 2]]
    assert record['loaded']
    assert max(record['errors']) < 1e-10, record['errors']
