"""Attention's inference cache of the resized position bias, and grid resampling."""
import torch
import torch.nn.functional as F

from lsnet_dense.models.layers import Attention


def _attention():
    torch.manual_seed(0)
    attention = Attention(32, key_dim=16, num_heads=2, attn_ratio=1.0).eval()
    torch.nn.init.normal_(attention.attention_biases)
    torch.nn.init.ones_(attention.proj[1].bn.weight)  # published init 0 silences the output
    return attention


def test_cached_bias_equals_recomputed_and_follows_weight_changes():
    attention = _attention()
    x = torch.randn(1, 32, 5, 7)
    with torch.no_grad():
        first = attention(x)
        assert attention._bias_cache is not None
        torch.testing.assert_close(attention(x), first)
        # load_state_dict copies in place: the cache must not serve the old table.
        state = attention.state_dict()
        state['attention_biases'] = torch.randn_like(state['attention_biases'])
        attention.load_state_dict(state)
        changed = attention(x)
    attention._bias_cache = None
    with torch.no_grad():
        torch.testing.assert_close(changed, attention(x))
    assert not torch.allclose(changed, first)


def test_no_cache_while_training_gradients_reach_the_table():
    attention = _attention().train()
    attention(torch.randn(1, 32, 4, 4)).sum().backward()
    assert attention._bias_cache is None
    assert attention.attention_biases.grad is not None


def test_resample_position_grid():
    attention = _attention()
    table = attention.attention_biases.detach().clone()
    attention.resample_position_grid(4)
    expected = F.interpolate(table.view(1, 2, 14, 14), size=(4, 4), mode='bicubic',
                             align_corners=False).view(2, 16)
    torch.testing.assert_close(attention.attention_biases.data, expected)
    assert attention.attention_bias_idxs.shape == (16, 16)
    with torch.no_grad():
        assert attention(torch.randn(1, 32, 4, 4)).shape == (1, 32, 4, 4)
