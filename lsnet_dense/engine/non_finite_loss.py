"""Stopping (or skipping) training steps whose loss is NaN or infinite.

Two parts, because an optimizer wrapper sees only the total loss and a hook sees the terms only
after the step: :class:`FiniteLossOptimWrapper` never applies a step with a non-finite total
loss, and :class:`NonFiniteLossHook` then stops training, naming the iteration and the loss
terms, or (``skip=True``) logs them and goes on.
"""
import math

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from mmengine.registry import HOOKS, OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class FiniteLossOptimWrapper(OptimWrapper):
    """mmengine's OptimWrapper that drops a step (and its gradients) when the loss is not finite.

    Non-finite gradients would otherwise corrupt every weight they reach, and the next
    checkpoint with them.
    """

    def update_params(self, loss: torch.Tensor, step_kwargs=None, zero_kwargs=None) -> None:
        if torch.isfinite(loss).all():
            super().update_params(loss, step_kwargs, zero_kwargs)
        else:
            self.zero_grad(**(zero_kwargs or {}))


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop training at the first non-finite loss, or log and skip such steps.

    Args:
        skip: go on after a non-finite loss (its step was not applied by
            :class:`FiniteLossOptimWrapper`) instead of stopping.
    """

    priority = 'HIGH'

    def __init__(self, skip: bool = False):
        self.skip = skip

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        losses = {name: float(torch.as_tensor(value).detach())
                  for name, value in (outputs or {}).items() if 'loss' in name}
        bad = {name: value for name, value in losses.items() if not math.isfinite(value)}
        if not bad:
            return
        # Name the culprit terms; the total is only news when every term looks finite.
        bad = {name: value for name, value in bad.items() if name != 'loss'} or bad
        terms = ', '.join(f'{name}={value}' for name, value in bad.items())
        if not self.skip:
            raise FloatingPointError(
                f'Non-finite loss at iteration {runner.iter + 1}: {terms}. The step was not '
                'applied. Lower the learning rate, check the data, or give the '
                'NonFiniteLossHook in custom_hooks skip=True to skip such steps.')
        print_log(f'Skipped the step of iteration {runner.iter + 1}: non-finite loss ({terms})',
                  logger='current', level=30)
