import pytest
import torch

from lsnet_dense import LSNet, LSNetFPN
from helpers import FPN_SETTINGS, NECK_SETTINGS, build_neck, random_fpn_state, random_state_dict


@pytest.mark.parametrize('task', sorted(NECK_SETTINGS))
@pytest.mark.parametrize('arch', ['t', 's', 'b'])
def test_state_dict_equals_published_and_loads_strictly(task, arch, reference_shapes):
    expected = reference_shapes['neck'][f'{task}_lsnet_{arch}']
    neck = build_neck(task, arch)
    assert {k: list(v.shape) for k, v in neck.state_dict().items()} == expected
    neck.load_state_dict(random_state_dict(expected), strict=True)


@pytest.mark.parametrize('task', sorted(NECK_SETTINGS))
@pytest.mark.parametrize('size', [(256, 320), (200, 136)])
def test_output_strides(task, size):
    backbone, neck = LSNet('t').eval(), build_neck(task, 't').eval()
    with torch.no_grad():
        outs = neck(backbone(torch.zeros(1, 3, *size)))
    strides = NECK_SETTINGS[task][1]
    assert len(outs) == len(strides)
    for out, stride in zip(outs, strides):
        assert out.shape[:2] == (1, 256)
        # Within one pixel of the nominal stride: stride-2 steps round odd sizes up.
        assert abs(out.shape[2] - size[0] / stride) <= 1 and abs(out.shape[3] - size[1] / stride) <= 1


def test_finer_level_is_transposed_conv_of_finest_lateral():
    neck = build_neck('mask_rcnn', 't').eval()
    feats = [torch.randn(1, c, 32 // 2**i, 32 // 2**i) for i, c in enumerate((64, 128, 256, 384))]
    with torch.no_grad():
        outs = neck(feats)
        # Zeroing the transposed conv must only change the first (finest) output.
        neck.extra_trans_convs[0].conv.weight.zero_()
        changed = neck(feats)
    assert not torch.allclose(outs[0], changed[0])
    assert all(torch.equal(a, b) for a, b in zip(outs[1:], changed[1:]))
    assert outs[0].shape[-1] == 2 * outs[1].shape[-1]


def test_max_pool_levels_without_extra_convs():
    neck = LSNetFPN([64, 128, 256, 384], 32, num_outs=6).eval()
    feats = [torch.randn(1, c, 32 // 2**i, 32 // 2**i) for i, c in enumerate((64, 128, 256, 384))]
    outs = neck(feats)
    assert [o.shape[-1] for o in outs] == [32, 16, 8, 4, 2, 1]
    assert len(neck.fpn_convs) == 4


def test_bad_settings_raise():
    with pytest.raises(ValueError, match='num_extra_trans_convs'):
        LSNetFPN([64, 128], 32, num_outs=2, num_extra_trans_convs=2)
    neck = LSNetFPN([64, 128], 32, num_outs=2)
    with pytest.raises(ValueError, match='expects 2 feature maps'):
        neck([torch.zeros(1, 64, 8, 8)])


@pytest.mark.parametrize('settings', FPN_SETTINGS, ids=[str(s) for s in FPN_SETTINGS])
def test_equals_mmdet_fpn_without_finer_levels(settings):
    """LSNetFPN's forward repeats mmdet's FPN's (to insert the finer levels): it must not drift."""
    from mmdet.models.necks import FPN
    in_channels = [16, 24, 32, 40]
    reference = FPN(in_channels, 8, **settings).eval()
    neck = LSNetFPN(in_channels, 8, **settings).eval()
    state = random_fpn_state(reference)
    assert list(neck.state_dict()) == list(state)
    reference.load_state_dict(state)
    neck.load_state_dict(state)
    feats = [torch.randn(2, c, 32 // 2**i, 40 // 2**i) for i, c in enumerate(in_channels)]
    with torch.no_grad():
        expected, outs = reference(feats), neck(feats)
    assert len(outs) == len(expected) == settings['num_outs']
    assert all(torch.equal(a, b) for a, b in zip(outs, expected))
