"""tools/deployment/export_onnx.py, then tools/test.py, tools/infer.py and
tools/analysis_tools/benchmark.py on the ONNX file: the same metrics as the PyTorch checkpoint
(identical, per class too), drawings, timings; the backbone's file checked here in ONNX Runtime
against PyTorch, at two sizes through one dynamic file. (Detection files through tools/test.py
and tools/infer.py: tests/test_deploy/test_end2end.py, which has the detector.)"""
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from lsnet_dense import LSNet
from lsnet_dense.apis import build_model_from_config
from lsnet_dense.datasets.demo_ade20k import generate_demo_ade20k
from lsnet_dense.deploy import OnnxRunner, read_sidecar
from lsnet_dense.deploy.export import SegmentorNetwork, relative_difference
from helpers import ROOT, load_tool
from tolerances import ONNX_VS_PYTORCH_RELATIVE

SEG_CONFIG = osp.join(ROOT, 'configs', 'demo', 'semfpn_lsnet_t_demo_ade20k.py')


def run_tool(tool, *args):
    env = dict(os.environ, PYTHONWARNINGS='ignore', OMP_NUM_THREADS='1')
    result = subprocess.run([sys.executable, osp.join(ROOT, 'tools', tool), *map(str, args)],
                            cwd=ROOT, capture_output=True, text=True, env=env)
    return result


def seg_data_options(data_root):
    return ['--cfg-options', f'test_dataloader.dataset.data_root={data_root}',
            f'train_dataloader.dataset.data_root={data_root}',
            'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']


@pytest.fixture(scope='module')
def seg_export(tmp_path_factory):
    """A few demo scenes, a Semantic FPN checkpoint trained on them by tools/train.py (2
    iterations of batch 2) and its ONNX export."""
    folder = tmp_path_factory.mktemp('onnx_tools')
    data_root = folder / 'data'
    generate_demo_ade20k(str(data_root), num_train=2, num_val=3)
    work_dir = folder / 'train'
    result = run_tool('train.py', SEG_CONFIG, '--work-dir', work_dir,
                      *seg_data_options(data_root), 'train_cfg.max_iters=2',
                      'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2',
                      'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
                      'train_dataloader.persistent_workers=False',
                      'val_dataloader.dataset.data_root=' + str(data_root),
                      'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False')
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = work_dir / 'iter_2.pth'
    out = folder / 'semfpn.onnx'
    # Traced at 128x128; the test images are 160x128 (W not a multiple of 64).
    result = run_tool('deployment/export_onnx.py', SEG_CONFIG, checkpoint, '--out', out,
                      '--dynamic', '--shape', 128, 128)
    assert result.returncode == 0, result.stderr[-3000:]
    return folder, data_root, checkpoint, out, result.stdout


def test_dynamic_export_prints_the_differences_and_runs_at_other_sizes(seg_export):
    _, _, checkpoint, out, output = seg_export
    assert f'exported (dynamic size): {out}, {str(out)[:-5]}.json' in output
    assert 'ONNX Runtime vs PyTorch at 2x3x128x128' in output
    assert 'semfpn.onnx seg_logits' in output
    assert float(output.split('largest: ')[1].split()[0]) < 1e-4
    assert read_sidecar(str(out))['input']['dynamic']
    model, _ = build_model_from_config(SEG_CONFIG, checkpoint=str(checkpoint))
    model.backbone.switch_to_deploy()
    network, runner = SegmentorNetwork(model), OnnxRunner(str(out), device='cpu')
    for shape in [(2, 3, 72, 100), (1, 3, 200, 136)]:
        images = torch.randn(shape)
        with torch.no_grad():
            expected = network(images)
        assert relative_difference(runner(images)[0], expected) < ONNX_VS_PYTORCH_RELATIVE


def test_onnx_metrics_equal_pytorch_metrics(seg_export):
    """Identical, per class included: after ONNX Runtime the logits go through mmseg's own
    resize and argmax, and differ from PyTorch's by ~1e-6 only, which changes no pixel."""
    folder, data_root, checkpoint, out, _ = seg_export
    metrics = {}
    for name, weights in (('torch', checkpoint), ('onnx', out)):
        work_dir = folder / f'work_{name}'
        result = run_tool('test.py', SEG_CONFIG, weights, '--work-dir', work_dir,
                          *seg_data_options(data_root))
        assert result.returncode == 0, result.stderr[-3000:]
        record = json.loads((work_dir / 'test_metrics.json').read_text())
        assert record['checkpoint'] == str(weights)
        metrics[name] = record['metrics']
    assert {'mIoU', 'aAcc', 'per_class'} <= set(metrics['torch'])
    assert metrics['onnx'] == metrics['torch']


def test_infer_draws_with_the_onnx_file(seg_export, tmp_path, capsys):
    _, data_root, _, out, _ = seg_export
    image = sorted((data_root / 'images' / 'validation').iterdir())[0]
    load_tool('infer').main([SEG_CONFIG, str(out), str(image), '--out-dir', str(tmp_path)])
    output = capsys.readouterr().out
    assert 'classes; largest: ' in output
    drawn, original = cv2.imread(str(tmp_path / 'vis' / image.name)), cv2.imread(str(image))
    assert drawn.shape == original.shape
    assert np.abs(drawn.astype(int) - original).mean() > 1


def test_backbone_export_checked_here_at_two_sizes_and_exit_above_the_tolerance(tmp_path,
                                                                               capsys):
    """The tool exits non-zero when its own check exceeds --tolerance; the file it wrote is
    then run here in ONNX Runtime at two sizes (one dynamic file) against PyTorch."""
    torch.manual_seed(0)
    weights = str(tmp_path / 'lsnet_t.pth')
    torch.save(LSNet('t').state_dict(), weights)
    out = str(tmp_path / 'lsnet_t.onnx')
    with pytest.raises(SystemExit, match='differs from PyTorch by .*tolerance 1e-12'):
        load_tool('deployment/export_onnx').main(['--backbone', 't', '--checkpoint', weights,
                                                  '--dynamic', '--shape', '128', '128',
                                                  '--out', out, '--tolerance', '1e-12'])
    output = capsys.readouterr().out
    for level in range(4):
        assert f'lsnet_t.onnx feat_{level}' in output
    sidecar = read_sidecar(out)
    assert sidecar['task'] == 'backbone' and sidecar['model'] == 'LSNet-T'
    assert sidecar['input']['shape'] is None and sidecar['input']['dynamic']
    assert sidecar['channels'] == [64, 128, 256, 384] and sidecar['strides'] == [8, 16, 32, 64]
    backbone = LSNet('t')
    backbone.load_state_dict(torch.load(weights))
    backbone.eval()
    runner = OnnxRunner(out, device='cpu')
    for shape in [(1, 3, 64, 96), (2, 3, 160, 128)]:
        images = torch.randn(shape, generator=torch.Generator().manual_seed(shape[2]))
        with torch.no_grad():
            expected = backbone(images)
        actual = runner(images)
        assert [tuple(a.shape) for a in actual] == [tuple(e.shape) for e in expected]
        for a, e in zip(actual, expected):
            assert relative_difference(a, e) < ONNX_VS_PYTORCH_RELATIVE


@pytest.mark.slow
def test_benchmark_onnxruntime_times_the_exported_backbones(capsys):
    load_tool('analysis_tools/benchmark').main([
        '--backend', 'onnxruntime', '--backbone', 't', '--shape', '64', '64', '--warmup', '1',
        '--iters', '2', '--threads', '1', '--compare', 'resnet18', 'mobilenetv2'])
    output = capsys.readouterr().out
    assert 'ONNX Runtime 1.31.1 (cpu, 1 intra-op threads, graph optimisation all)' in output
    names = [line.split('  ')[0] for line in output.splitlines()[2:5]]
    assert names == ['LSNet-T backbone', 'resnet18', 'mobilenetv2']
