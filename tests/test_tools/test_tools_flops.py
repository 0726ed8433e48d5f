"""tools/analysis_tools/get_flops.py: the paper's figures for the classifiers, parts of a
detector."""
import re

import pytest
import torch
import torch.nn as nn

from lsnet_dense.analysis import analyze_complexity
from lsnet_dense.models.layers import Attention
from lsnet_dense.ops import ska
from helpers import RETINANET_CONFIG, load_tool, write_config

# Paper, Table 1: classifiers at 224x224, params (M) and FLOPs (G, multiply-adds).
PAPER = {'t': (11.4, 0.3), 's': (16.1, 0.5), 'b': (23.2, 1.3)}


@pytest.fixture(scope='module')
def flops_tool():
    return load_tool('analysis_tools/get_flops')


@pytest.mark.parametrize('arch', ['t', 's', 'b'])
def test_classifier_reproduces_the_paper(arch, flops_tool):
    """Parameters of the deployed model, FLOPs of the model as trained, to the paper's 0.1."""
    _, deployed = flops_tool.classifier_complexity(arch, (224, 224), deploy=True)
    assert set(deployed.parts) >= {'backbone', 'head'}
    text = flops_tool.paper_comparison(arch, deployed, deploy=True)
    params, flops = PAPER[arch]
    assert text.startswith(f'paper (224x224): {params} M params, {flops} G FLOPs')
    ours = re.search(r'here: ([\d.]+) M params deployed .*, ([\d.]+) G FLOPs as trained', text)
    assert round(float(ours[1]), 1) == params and round(float(ours[2]), 1) == flops
    assert round(deployed.params / 1e6, 1) == params


def test_printed_table(flops_tool, capsys):
    flops_tool.main(['--backbone', 't', '--shape', '64', '96'])
    output = capsys.readouterr().out
    assert 'LSNet-T ImageNet classifier' in output and 'input 1x3x64x96, as trained' in output
    assert 'multiply-accumulates' in output and 'operators not counted: aten::add' in output
    total = next(line for line in output.splitlines() if line.startswith('total')).split()
    assert float(total[1]) == pytest.approx(11.41, abs=0.01)


class AttentionAndSka(nn.Module):
    """One SKA and one LSNet attention, whose MACs are known in closed form."""

    def __init__(self):
        super().__init__()
        self.attention = Attention(32, key_dim=16, num_heads=2, attn_ratio=1.0)

    def forward(self, x, w, features):
        return ska(x, w), self.attention(features)


def test_ska_and_attention_are_counted():
    x, w = torch.randn(1, 16, 5, 6), torch.randn(1, 2, 9, 5, 6)
    features = torch.randn(1, 32, 3, 4)  # N = 12 tokens
    complexity = analyze_complexity(AttentionAndSka().eval(), (x, w, features), {})
    ska_macs = 9 * 16 * 5 * 6
    tokens, heads, key_dim, value_dim = 12, 2, 16, 16
    convs = tokens * (32 * (2 * 32 + 32) + 32 * 9 + 32 * 32)  # qkv, dw on q, proj
    batch_norms = 2 * tokens * (96 + 32 + 32)
    products = heads * tokens * tokens * (key_dim + value_dim)  # q.k and attn.v
    assert complexity.flops == ska_macs + convs + batch_norms + products


def test_detector_parts_add_up(tmp_path, flops_tool, capsys):
    config = write_config(tmp_path, RETINANET_CONFIG)
    flops_tool.main([config, '--shape', '128', '128', '--deploy'])
    output = capsys.readouterr().out
    rows = {line.split()[0]: [float(v) for v in line.split()[1:]]
            for line in output.splitlines() if line.split() and line.split()[0] in
            ('backbone', 'neck', 'head', 'total')}
    assert set(rows) == {'backbone', 'neck', 'head', 'total'}
    assert 'RetinaNet (heads: bbox_head)' in output and 'deployed' in output
    assert rows['total'][1] == pytest.approx(sum(rows[p][1] for p in ('backbone', 'neck', 'head')),
                                             abs=2e-3)
    assert rows['backbone'][0] == pytest.approx(10.99, abs=0.05)  # deployed LSNet-T
