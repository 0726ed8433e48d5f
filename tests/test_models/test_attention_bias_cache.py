"""Attention's inference cache of the resized position bias, and grid resampling."""
import os.path as osp
from copy import deepcopy

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.hooks import EMAHook
from mmengine.runner import Runner

from lsnet_dense.datasets import generate_demo_coco
from lsnet_dense.models.layers import Attention
from helpers import ROOT

DEMO_CONFIG = osp.join(ROOT, 'configs', 'demo', 'retinanet_lsnet_t_demo.py')


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


def test_cache_sees_writes_through_data():
    """mmengine's EMAHook swaps weights with ``param.data.copy_``, which bumps no version."""
    attention = _attention()
    x = torch.randn(1, 32, 5, 7)
    new_table = torch.randn_like(attention.attention_biases)
    with torch.no_grad():
        attention(x)
        attention.attention_biases.data.copy_(new_table)
        swapped = attention(x)
        fresh = _attention()
        fresh.attention_biases.data.copy_(new_table)
        torch.testing.assert_close(swapped, fresh(x), rtol=0, atol=0)


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


def _fresh_copy(module):
    """A deep copy with no cached bias: what the weights give, computed from scratch."""
    copy = deepcopy(module)
    for layer in copy.modules():
        if isinstance(layer, Attention):
            layer._bias_cache = None
    return copy.eval()


def test_short_run_with_ema_hook_and_validation(tmp_path):
    """mmengine's EMAHook swaps the averaged weights in through ``.data`` for validation and the
    trained ones back after it: each forward must use the weights in place at that moment."""
    root = str(tmp_path / 'coco')
    generate_demo_coco(root, num_train=4, num_val=2, height=64, width=64, seed=3)
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict({
        'work_dir': str(tmp_path / 'work'), 'experiment_name': 'ema_bias_cache',
        'train_dataloader.dataset.data_root': root + '/', 'train_dataloader.batch_size': 2,
        'train_dataloader.num_workers': 0, 'train_dataloader.persistent_workers': False,
        'val_dataloader.dataset.data_root': root + '/', 'val_dataloader.batch_size': 2,
        'val_dataloader.num_workers': 0, 'val_dataloader.persistent_workers': False,
        'val_evaluator.ann_file': f'{root}/annotations/instances_val.json',
        'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 1,
        # A large step and no warm-up, so that the trained and averaged tables differ clearly.
        'optim_wrapper.optimizer.lr': 0.01, 'param_scheduler': [],
        'default_hooks.checkpoint.interval': 100, 'default_hooks.logger.interval': 1})
    cfg.custom_hooks = [dict(type='EMAHook', momentum=0.5)]
    runner = Runner.from_cfg(cfg)
    validated = []
    runner.model.backbone.register_forward_hook(
        lambda module, args, outputs: validated.append((args[0], outputs))
        if not module.training else None)
    runner.train()
    ema_hook = next(hook for hook in runner.hooks if isinstance(hook, EMAHook))
    averaged = _fresh_copy(ema_hook.ema_model.module.backbone)
    trained = runner.model.backbone.eval()
    assert len(validated) == 1  # two val images, one batch
    images, outputs = validated[0]
    with torch.no_grad():
        for got, expected in zip(outputs, averaged(images)):
            torch.testing.assert_close(got, expected, rtol=0, atol=0)
        tables = [[m.attention_biases for m in model.modules() if isinstance(m, Attention)]
                  for model in (trained, averaged)]
        assert not any(torch.equal(a, b) for a, b in zip(*tables))
        # The trained weights are back after validation: so must their position bias be.
        for got, expected in zip(trained(images), _fresh_copy(trained)(images)):
            torch.testing.assert_close(got, expected, rtol=0, atol=0)
