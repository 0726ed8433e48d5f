import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from lsnet_dense import LSNet
from reference_lsnet import lsnet_forward
from helpers import random_state_dict, randomised_lsnet

VARIANTS = ['t', 's', 'b']
PAPER_PARAMS_M = {'t': 11.4, 's': 16.1, 'b': 23.2}


@pytest.mark.parametrize('arch', VARIANTS)
def test_state_dict_equals_published_names_and_shapes(arch, reference_shapes):
    expected = reference_shapes['backbone_detection'][f'lsnet_{arch}']
    got = {k: list(v.shape) for k, v in LSNet(arch).state_dict().items()}
    assert set(got) == set(expected)
    assert got == expected


@pytest.mark.parametrize('arch', VARIANTS)
def test_strict_load_of_published_structure(arch, reference_shapes):
    shapes = reference_shapes['backbone_detection'][f'lsnet_{arch}']
    model = LSNet(arch)
    model.load_state_dict(random_state_dict(shapes), strict=True)


@pytest.mark.parametrize('arch', VARIANTS)
def test_parameter_count_with_classification_head_matches_paper(arch):
    model = LSNet(arch)
    dim = model.embed_dims[-1]
    head = 2 * dim + dim * 1000 + 1000  # BatchNorm1d + Linear, as in the published head
    params_m = (sum(p.numel() for p in model.parameters()) + head) / 1e6
    assert params_m == pytest.approx(PAPER_PARAMS_M[arch], rel=0.01)


@pytest.mark.parametrize('arch,size', [
    ('t', (64, 64)), ('t', (97, 131)), ('s', (70, 50)), ('b', (129, 67)),
    pytest.param('t', (224, 224), marks=pytest.mark.slow),
])
def test_features_equal_spec_reference(arch, size, reference_shapes):
    shapes = reference_shapes['backbone_detection'][f'lsnet_{arch}']
    model = randomised_lsnet(arch, shapes)
    x = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(1))
    # float32 within the contract's 1e-4; float64 shows the computation is the same up to rounding.
    for dtype, tolerance in ((torch.float32, 1e-4), (torch.float64, 1e-10)):
        model = model.to(dtype)
        with torch.no_grad():
            outs = model(x.to(dtype))
            expected = lsnet_forward(model.state_dict(), x.to(dtype))
        for out, ref in zip(outs, expected):
            assert out.shape == ref.shape
            err = (out - ref).abs().max() / ref.abs().max()
            assert err < tolerance, f'{dtype}: relative error {err:.2e}'


def _expected_side(side, stage):
    for _ in range(stage + 3):  # every stride-2 3x3 conv with padding 1 rounds up
        side = (side + 1) // 2
    return side


@pytest.mark.parametrize('size', [(64, 64), (100, 75), (33, 257), (17, 17)])
def test_output_shapes_and_strides(size):
    model = LSNet('t').eval()
    with torch.no_grad():
        outs = model(torch.zeros(1, 3, *size))
    assert len(outs) == 4
    for stage, out in enumerate(outs):
        assert out.shape == (1, model.embed_dims[stage], _expected_side(size[0], stage),
                             _expected_side(size[1], stage))


def test_out_indices_select_stages():
    model = LSNet('t', out_indices=(1, 3)).eval()
    with torch.no_grad():
        outs = model(torch.zeros(1, 3, 128, 128))
    assert [o.shape[1] for o in outs] == [128, 384]
    assert [o.shape[-1] for o in outs] == [8, 2]


def test_frozen_stages_stay_frozen_through_train():
    model = LSNet('s', frozen_stages=2, norm_eval=False)
    model.train()
    frozen = [model.patch_embed, model.blocks1, model.blocks2]
    for module in frozen:
        assert not module.training
        assert all(not p.requires_grad for p in module.parameters())
    assert model.blocks3.training and all(p.requires_grad for p in model.blocks3.parameters())
    model(torch.randn(2, 3, 64, 64))[-1].sum().backward()
    assert all(p.grad is None for m in frozen for p in m.parameters())
    assert model.blocks4[0].c.weight.grad is not None


def test_frozen_stage_zero_freezes_only_patch_embed():
    model = LSNet('t', frozen_stages=0, norm_eval=False).train()
    assert not model.patch_embed.training
    assert model.blocks2.training


@pytest.mark.parametrize('norm_eval', [True, False])
def test_norm_eval_controls_batchnorm_mode_and_statistics(norm_eval):
    model = LSNet('t', norm_eval=norm_eval).train()
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert all(bn.training != norm_eval for bn in bns)
    before = bns[5].running_mean.clone()
    model(torch.randn(2, 3, 64, 64))
    assert torch.equal(before, bns[5].running_mean) == norm_eval
    # Non-BN layers train either way.
    assert model.training and model.blocks3[3].mixer.lkp.norm.training


def test_drop_path_is_used_in_training(reference_shapes):
    model = LSNet('t', drop_path_rate=0.5, norm_eval=True)
    model.load_state_dict(random_state_dict(reference_shapes['backbone_detection']['lsnet_t']))
    model.train()
    x = torch.randn(4, 3, 64, 64)
    torch.manual_seed(0)
    a = model(x)[-1]
    torch.manual_seed(1)
    b = model(x)[-1]
    assert not torch.allclose(a, b)


@pytest.mark.parametrize('arch', VARIANTS)
def test_switch_to_deploy_keeps_outputs(arch, reference_shapes):
    model = randomised_lsnet(arch, reference_shapes['backbone_detection'][f'lsnet_{arch}'])
    x = torch.randn(1, 3, 96, 80)
    with torch.no_grad():
        expected = model(x)
        model.switch_to_deploy()
        outs = model(x)
    assert not any(type(m).__name__ in ('Conv2dBN', 'RepVGGDW') for m in model.modules())
    for out, ref in zip(outs, expected):
        assert (out - ref).abs().max() / ref.abs().max() < 1e-5


@pytest.mark.parametrize('kwargs,match', [
    (dict(arch='x'), "Unknown LSNet arch 'x'"),
    (dict(arch=dict(embed_dims=[64, 128], depths=[1, 1], num_heads=[1, 1])), 'needs 4 entries'),
    (dict(arch=dict(embed_dims=[64, 128, 256, 384], depths=[0, 2, 8, 10])), 'lacks'),
    (dict(arch=dict(embed_dims=[60, 128, 256, 384], depths=[0, 2, 8, 10],
                    num_heads=[3, 3, 3, 4])), 'multiples of 8'),
    (dict(out_indices=(0, 4)), 'out_indices'),
    (dict(out_indices=()), 'out_indices'),
    (dict(frozen_stages=5), 'frozen_stages'),
])
def test_bad_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LSNet(**kwargs)


def test_custom_arch_dict():
    arch = dict(embed_dims=[32, 64, 96, 128], depths=[1, 1, 2, 2], num_heads=[2, 2, 2, 2])
    outs = LSNet(arch).eval()(torch.zeros(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [32, 64, 96, 128]


def test_wrong_input_shape_raises():
    with pytest.raises(ValueError, match=r'\(B, 3, H, W\)'):
        LSNet('t')(torch.zeros(1, 1, 64, 64))
