"""A checkpoint whose pickle runs a command (``touch MARKER``) is refused by every path that reads
a checkpoint, and the command never runs: the toolkit's own loader, mmengine's loading as the
tools set it up, the tools, the Python API, timm, URLs, and an mmdet project that only imports
lsnet_dense."""
import os.path as osp
import subprocess
import sys
import textwrap

import mmcv
import numpy as np
import pytest
import timm

import lsnet_dense.timm_models  # noqa: F401  registers lsnet_t/s/b in timm
from lsnet_dense import LSNet
from lsnet_dense.apis import build_model_from_config
from lsnet_dense.datasets import generate_demo_coco
from lsnet_dense.errors import UntrustedCheckpointError
from helpers import (RETINANET_CONFIG, RETINANET_INFERENCE_CONFIG, ROOT, refusal_of,
                     served_directory, write_config, write_malicious_checkpoint)

DEMO_CONFIG = osp.join(ROOT, 'configs', 'demo', 'retinanet_lsnet_t_demo.py')
# What the refusal says for the file of write_malicious_checkpoint (os.system lives in posix).
REFUSAL = 'refused to load: its pickle asks for the global posix.system'


@pytest.fixture
def evil(tmp_path):
    """(the malicious file, the marker its command would create); the test fails if the
    marker exists afterwards."""
    marker = tmp_path / 'MARKER'
    path = write_malicious_checkpoint(tmp_path / 'retinanet_lsnet_t_coco.pth', marker)
    yield path, marker
    assert not marker.exists(), 'the pickled command ran'


@pytest.fixture(scope='module')
def tiny_coco(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('coco'))
    generate_demo_coco(root, num_train=4, num_val=2, height=64, width=64, seed=1)
    return root


def test_lsnet_init_cfg_pretrained(evil):
    backbone = LSNet('t', init_cfg=dict(type='Pretrained', checkpoint=evil[0]))
    with pytest.raises(UntrustedCheckpointError, match=REFUSAL):
        backbone.init_weights()


def test_mmengine_pretrained_init_of_another_module(evil, tmp_path):
    """The neck's ``init_cfg`` goes through mmengine's PretrainedInit and CheckpointLoader."""
    model = build_model_from_config(write_config(tmp_path, RETINANET_CONFIG + textwrap.dedent(f'''
        model.update(neck=dict(model['neck'], init_cfg=dict(type='Pretrained',
                                                            checkpoint={evil[0]!r})))
        ''')))[0]
    with pytest.raises(UntrustedCheckpointError, match=REFUSAL):
        model.init_weights()


def test_python_api(evil, tmp_path):
    with pytest.raises(UntrustedCheckpointError, match=REFUSAL):
        build_model_from_config(write_config(tmp_path, RETINANET_CONFIG), checkpoint=evil[0])


def _train_args(root, work_dir, *options, config=DEMO_CONFIG):
    return (config, '--work-dir', work_dir, '--cfg-options',
            f'train_dataloader.dataset.data_root={root}/', 'val_cfg=None',
            'val_dataloader=None', 'val_evaluator=None', *options)


def test_train_resume(evil, tiny_coco, tmp_path, monkeypatch):
    message = refusal_of('train', *_train_args(tiny_coco, tmp_path / 'run'), '--resume', evil[0],
                         monkeypatch=monkeypatch)
    assert message.startswith(f'error: --resume: {evil[0]}: {REFUSAL}')


def test_train_load_from(evil, tiny_coco, tmp_path, monkeypatch):
    message = refusal_of('train', *_train_args(tiny_coco, tmp_path / 'run', f'load_from={evil[0]}'),
                         monkeypatch=monkeypatch)
    assert REFUSAL in message and '--trust-checkpoint' in message


def test_train_pretrained_backbone(evil, tiny_coco, tmp_path, monkeypatch):
    config = write_config(tmp_path, f"""_base_ = {DEMO_CONFIG!r}
model = dict(backbone=dict(init_cfg=dict(_delete_=True, type='Pretrained',
                                         checkpoint={evil[0]!r})))
""")
    message = refusal_of('train', *_train_args(tiny_coco, tmp_path / 'run', config=config),
                         monkeypatch=monkeypatch)
    assert REFUSAL in message and 'pretrained backbone file' in message


def test_test_tool(evil, monkeypatch):
    assert REFUSAL in refusal_of('test', DEMO_CONFIG, evil[0], monkeypatch=monkeypatch)


def test_infer_tool(evil, tmp_path, monkeypatch):
    image = str(tmp_path / 'street.jpg')
    mmcv.imwrite(np.zeros((48, 64, 3), np.uint8), image)
    config = write_config(tmp_path, RETINANET_INFERENCE_CONFIG)
    assert REFUSAL in refusal_of('infer', config, evil[0], image, '--out-dir', tmp_path / 'out',
                                 monkeypatch=monkeypatch)


def test_export_tool(evil, tmp_path, monkeypatch):
    config = write_config(tmp_path, RETINANET_CONFIG)
    assert REFUSAL in refusal_of('deployment/export_onnx', config, evil[0], '--out',
                                 tmp_path / 'model.onnx', monkeypatch=monkeypatch)
    assert REFUSAL in refusal_of('deployment/export_onnx', '--backbone', 't', '--checkpoint',
                                 evil[0], '--out', tmp_path / 'lsnet.onnx',
                                 monkeypatch=monkeypatch)


def test_model_converters(evil, tmp_path, monkeypatch):
    out = tmp_path / 'out.pth'
    assert REFUSAL in refusal_of('model_converters/convert_checkpoint', evil[0], out,
                                 monkeypatch=monkeypatch)
    config = write_config(tmp_path, RETINANET_CONFIG)
    assert REFUSAL in refusal_of('model_converters/reparameterize', config, evil[0], out,
                                 monkeypatch=monkeypatch)
    assert not out.exists()


def test_timm_pretrained_file(evil):
    with pytest.raises(UntrustedCheckpointError, match=REFUSAL):
        timm.create_model('lsnet_t', pretrained=True, pretrained_cfg_overlay=dict(file=evil[0]))


def test_timm_checkpoint_path(evil):
    """timm reads ``checkpoint_path`` itself, with ``weights_only=True`` and no fallback."""
    with pytest.raises(RuntimeError, match='weights_only=True blocked'):
        timm.create_model('lsnet_t', checkpoint_path=evil[0])


def test_urls_through_mmengine_and_init_cfg(evil, tmp_path, monkeypatch):
    """``load_from`` / ``init_cfg`` URLs: mmengine's own loader would unpickle them fully."""
    from mmengine.runner import CheckpointLoader

    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    with served_directory(osp.dirname(evil[0])) as base:
        url = f'{base}/{osp.basename(evil[0])}'
        with pytest.raises(UntrustedCheckpointError, match=REFUSAL):
            CheckpointLoader.load_checkpoint(url, map_location='cpu')
        with pytest.raises(UntrustedCheckpointError, match=REFUSAL):
            LSNet('t', init_cfg=dict(type='Pretrained', checkpoint=url)).init_weights()


PROJECT = '''
import sys

from mmdet.apis import init_detector
from mmengine.config import Config
from mmengine.runner import CheckpointLoader, Runner

cfg = Config.fromfile(sys.argv[1])  # custom_imports: lsnet_dense
assert 'lsnet_dense' in sys.modules
print('local loader:', CheckpointLoader._schemes[''].__module__)
for name, load in [
        ('init_detector', lambda: init_detector(cfg, sys.argv[2], device='cpu')),
        ('Runner.load_checkpoint', lambda: Runner(
            model=cfg.model, work_dir=sys.argv[3], default_scope='mmdet').load_checkpoint(
                sys.argv[2]))]:
    try:
        load()
        print(name, 'loaded the file')
    except Exception as error:
        print(name, 'refused:', type(error).__name__, str(error).splitlines()[-3:])
'''


def test_project_importing_lsnet_dense_through_custom_imports(evil, tmp_path):
    """An mmdet project of its own, not the toolkit's tools: importing lsnet_dense leaves
    mmengine's loader as it is, whose ``weights_only=True`` default refuses the file."""
    config = write_config(tmp_path, RETINANET_CONFIG)  # custom_imports=dict(imports=['lsnet_dense'])
    script = tmp_path / 'project.py'
    script.write_text(PROJECT)
    result = subprocess.run([sys.executable, str(script), config, evil[0], str(tmp_path / 'wd')],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'local loader: mmengine.runner.checkpoint' in result.stdout
    assert 'init_detector refused: UnpicklingError' in result.stdout, result.stdout
    assert 'Runner.load_checkpoint refused: UnpicklingError' in result.stdout, result.stdout
    assert 'posix.system' in result.stdout
