"""tools/analysis_tools/benchmark.py runs and prints consistent figures (speed itself is not
asserted)."""
import pytest
import torch

from helpers import RETINANET_CONFIG, SEMFPN_CONFIG, load_tool, write_config
from lsnet_dense.analysis.end2end_speed import COMPARED_BACKBONES, backbone_options
from lsnet_dense.apis import build_model_from_config
from tolerances import TWO_DECIMALS_ROUNDING


@pytest.fixture(scope='module')
def benchmark_tool():
    return load_tool('analysis_tools/benchmark')


def _rows(output, batch=1, group=None):
    """Model label -> (latency, spread, best, images/s, ratio) from the printed table, checked
    for consistency: images/s and ratio (latency of the first row of its group of ``group``
    rows, default all, / this row's) follow from the latencies, to the printed precision, and
    the fastest run is at most the median."""
    rows = {}
    for line in output.splitlines():
        parts = line.rsplit(maxsplit=5)
        if len(parts) == 6 and parts[1].replace('.', '').isdigit():
            rows[parts[0].strip()] = tuple(float(v) for v in parts[1:])
    assert rows, output
    group = group or len(rows)
    rounding = TWO_DECIMALS_ROUNDING
    values = list(rows.values())
    for index, (latency, spread, best, images_per_second, ratio) in enumerate(values):
        reference = values[index - index % group][0]
        assert 0 < best <= latency and spread >= 0
        expected = 1e3 * batch / latency
        assert abs(images_per_second - expected) <= rounding * (1 + expected / latency)
        expected = reference / latency
        assert abs(ratio - expected) <= rounding * (1 + expected / reference + expected / latency)
    return rows


@pytest.fixture
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_backbone_beside_resnet18_and_mobilenetv2(benchmark_tool, capsys, restore_threads):
    benchmark_tool.main(['--backbone', 't', '--shape', '64', '64', '--warmup', '1', '--iters', '2',
                         '--deploy', '--channels-last', '--threads', '1',
                         '--compare', 'resnet18', 'mobilenetv2'])
    output = capsys.readouterr().out
    assert 'input 1x3x64x64, device cpu (1 threads), eval mode, deploy, channels_last' in output
    rows = _rows(output)
    assert list(rows) == ['LSNet-T backbone', 'resnet18', 'mobilenetv2']
    assert rows['LSNet-T backbone'][4] == 1.0


def test_compile_times_the_compiled_model(benchmark_tool, capsys, monkeypatch):
    """--compile: the timed call is the torch.compile'd backbone (dynamo's 'eager' backend
    here: inductor's code generation takes minutes on this CPU)."""
    compiled = []
    real_compile = torch.compile

    def recording_compile(model, **options):
        compiled.append(type(model).__name__)
        return real_compile(model, backend='eager', **options)

    monkeypatch.setattr(torch, 'compile', recording_compile)
    torch._dynamo.reset()
    benchmark_tool.main(['--backbone', 't', '--shape', '64', '96', '--warmup', '1', '--iters', '2',
                         '--compile'])
    output = capsys.readouterr().out
    assert compiled == ['LSNet']
    assert torch._dynamo.utils.counters['stats']['unique_graphs'] >= 1
    assert 'input 1x3x64x96, device cpu' in output and 'eval mode, torch.compile;' in output
    assert list(_rows(output)) == ['LSNet-T backbone']


@pytest.mark.parametrize('config_text,part', [(RETINANET_CONFIG, 'model'),
                                              (SEMFPN_CONFIG, 'model'),
                                              (RETINANET_CONFIG, 'backbone')],
                         ids=['retinanet', 'semfpn', 'retinanet-backbone'])
def test_whole_model_or_its_backbone(config_text, part, benchmark_tool, tmp_path, capsys):
    config = write_config(tmp_path, config_text)
    benchmark_tool.main([config, '--part', part, '--shape', '64', '96', '--batch', '2',
                         '--warmup', '1', '--iters', '2'])
    rows = _rows(capsys.readouterr().out, batch=2)
    name = 'model_cfg' if part == 'model' else 'model_cfg backbone'
    assert list(rows) == [name] and rows[name][4] == 1.0


def test_compare_needs_a_backbone(benchmark_tool, tmp_path, capsys):
    config = write_config(tmp_path, RETINANET_CONFIG)
    with pytest.raises(SystemExit) as stopped:
        benchmark_tool.main([config, '--compare', 'resnet18'])
    assert stopped.value.code == 2  # argparse's usage error
    assert ('error: --compare times backbones beside a backbone: add --part backbone'
            in capsys.readouterr().err)


def test_end2end_in_both_runtimes(benchmark_tool, tmp_path, capsys):
    config = write_config(tmp_path, SEMFPN_CONFIG)
    benchmark_tool.main([config, '--end2end', '--backend', 'onnxruntime', 'openvino',
                         '--shape', '128', '128', '--threads', '1', '--warmup', '0',
                         '--iters', '2'])
    output = capsys.readouterr().out
    assert ('input 1x3x128x128, end-to-end files (export_onnx.py --end2end, static size, '
            'backbones folded) in ONNX Runtime f32, OpenVINO f32 (1 threads' in output)
    # Each runtime's rows are compared with the config's model in that runtime.
    rows = _rows(output, group=1)
    assert list(rows) == ['model_cfg, ONNX Runtime f32', 'model_cfg, OpenVINO f32']
    assert all(row[4] == 1.0 for row in rows.values())
    assert ('model_cfg: weights: BatchNorm statistics from random batches; export check: '
            'passed on 2 example scenes' in output)


def test_compared_backbones_feed_the_head_at_lsnet_strides(tmp_path):
    """--end2end --compare: the same neck outputs (strides, channels) on the other backbones."""
    config = write_config(tmp_path, RETINANET_CONFIG)
    images = torch.randn(1, 3, 64, 64)
    shapes = []
    for options in [None] + [backbone_options(name) for name in sorted(COMPARED_BACKBONES)]:
        model, _ = build_model_from_config(config, options)
        with torch.no_grad():
            shapes.append([tuple(f.shape) for f in model.extract_feat(images)])
        assert hasattr(model.backbone, 'switch_to_deploy')  # the exporter folds backbones
    assert shapes[1:] == shapes[:1] * len(COMPARED_BACKBONES)


@pytest.mark.parametrize('arguments,message', [
    (['--backend', 'openvino'], 'several --backend values, openvino and --precision time '
     'end-to-end files: add CONFIG --end2end'),
    (['--end2end', '--backend', 'torch'], '--end2end times exported files: give --backend '
     'onnxruntime and / or openvino'),
    (['--end2end', '--backend', 'onnxruntime', '--precision', 'bf16'],
     '--precision bf16 runs in OpenVINO: add openvino to --backend'),
    (['--end2end', '--backend', 'openvino', '--batch', '2'], '--end2end files take one image '
     '(--batch 1)'),
    (['--end2end', '--backend', 'openvino', '--deploy'], '--deploy, --channels-last and '
     '--compile are PyTorch settings'),
    (['--end2end', '--backend', 'openvino', '--iters', '1'], '--iters 1: at least 2 timed runs'),
], ids=['openvino-without-end2end', 'torch', 'bf16-in-onnxruntime', 'batch', 'deploy', 'iters'])
def test_end2end_refuses_bad_combinations(arguments, message, benchmark_tool, tmp_path, capsys):
    config = write_config(tmp_path, RETINANET_CONFIG)
    with pytest.raises(SystemExit) as stopped:
        benchmark_tool.main([config, *arguments])
    assert stopped.value.code == 2  # argparse's usage error
    assert f'error: {message}' in capsys.readouterr().err


def test_end2end_needs_a_config(benchmark_tool, capsys):
    with pytest.raises(SystemExit) as stopped:
        benchmark_tool.main(['--backbone', 't', '--end2end', '--backend', 'onnxruntime'])
    assert stopped.value.code == 2
    assert ('error: --end2end times a detector or segmenter: give CONFIG, not --backbone'
            in capsys.readouterr().err)
