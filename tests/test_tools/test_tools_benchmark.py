"""tools/analysis_tools/benchmark.py runs and prints consistent figures (speed itself is not
asserted)."""
import pytest
import torch

from helpers import RETINANET_CONFIG, SEMFPN_CONFIG, load_tool, write_config
from tolerances import TWO_DECIMALS_ROUNDING


@pytest.fixture(scope='module')
def benchmark_tool():
    return load_tool('analysis_tools/benchmark')


def _rows(output, batch=1):
    """Model label -> (latency, spread, best, images/s, ratio) from the printed table, checked
    for consistency: images/s and ratio (first row's latency / this row's) follow from the
    latencies, to the printed precision, and the fastest run is at most the median."""
    rows = {}
    for line in output.splitlines():
        parts = line.rsplit(maxsplit=5)
        if len(parts) == 6 and parts[1].replace('.', '').isdigit():
            rows[parts[0].strip()] = tuple(float(v) for v in parts[1:])
    assert rows, output
    reference = next(iter(rows.values()))[0]
    rounding = TWO_DECIMALS_ROUNDING
    for latency, spread, best, images_per_second, ratio in rows.values():
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
