import pytest
import torch

from lsnet_dense.ops import ska, ska_torch
from reference_lsnet import ska_unfold


@pytest.mark.parametrize('batch,channels,groups,size', [
    (1, 16, 2, (7, 7)), (2, 32, 4, (8, 6)), (3, 24, 3, (5, 9)), (2, 64, 8, (10, 10)),
    (1, 8, 1, (1, 1)),
])
def test_forward_and_backward_match_unfold_reference(batch, channels, groups, size):
    torch.manual_seed(0)
    x = torch.randn(batch, channels, *size, dtype=torch.float64, requires_grad=True)
    w = torch.randn(batch, groups, 9, *size, dtype=torch.float64, requires_grad=True)
    out = ska(x, w)
    expected = ska_unfold(x, w)
    torch.testing.assert_close(out, expected)
    grad = torch.randn_like(out)
    gx, gw = torch.autograd.grad(out, (x, w), grad)
    ex, ew = torch.autograd.grad(expected, (x, w), grad)
    torch.testing.assert_close(gx, ex)
    torch.testing.assert_close(gw, ew)


def test_groups_are_interleaved_over_channels():
    x = torch.ones(1, 4, 3, 3)
    w = torch.zeros(1, 2, 9, 3, 3)
    w[:, 1, 4] = 1  # group 1, centre tap
    out = ska(x, w)
    # Channels 1 and 3 (c % 2 == 1) use group 1; channels 0 and 2 use the all-zero group 0.
    assert out[0, [1, 3]].eq(1).all() and out[0, [0, 2]].eq(0).all()


def test_kernel_size_five():
    torch.manual_seed(1)
    x, w = torch.randn(2, 12, 6, 7), torch.randn(2, 4, 25, 6, 7)
    torch.testing.assert_close(ska_torch(x, w), ska_unfold(x, w), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('size', [(4, 4), (5, 3)])
def test_gradcheck_float64(size):
    torch.manual_seed(2)
    x = torch.randn(2, 8, *size, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 2, 9, *size, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(ska_torch, (x, w))


@pytest.mark.parametrize('x_shape,w_shape,match', [
    ((2, 8, 4, 4), (2, 2, 8, 4, 4), 'odd K'),
    ((2, 8, 4, 4), (2, 3, 9, 4, 4), 'cannot share'),
    ((2, 8, 4, 4), (1, 2, 9, 4, 4), 'do not match'),
    ((8, 4, 4), (2, 2, 9, 4, 4), r'\(B, C, H, W\)'),
])
def test_bad_shapes_raise(x_shape, w_shape, match):
    with pytest.raises(ValueError, match=match):
        ska(torch.zeros(x_shape), torch.zeros(w_shape))
