"""Stopping (or skipping) training steps whose loss is NaN or infinite, in one process or many.

Two parts, because an optimizer wrapper sees only the total loss and a hook sees the terms only
after the step: :class:`FiniteLossOptimWrapper` (:class:`FiniteLossAmpOptimWrapper` under mixed
precision) never applies a step with a non-finite total loss, and :class:`NonFiniteLossHook`
then stops training, naming the iteration, the rank and the loss terms, or (``skip=True``) logs
them and goes on.

Under DDP every rank decides together: mmengine does not reduce losses across ranks, and one
rank leaving out its backward while the others run theirs would leave DDP's gradient all-reduce
waiting (a hang) or average gradients of different iterations. So both parts all-reduce one flag
per rank before acting, and a NaN on any rank skips (or stops) that step on all of them.
"""
import math
from typing import List

import torch
from mmengine.dist import all_gather_object, all_reduce, get_dist_info
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import HOOKS, OPTIM_WRAPPERS

from lsnet_dense.errors import PreflightError

# --amp: the mixed-precision wrapper that keeps the behaviour of each full-precision one.
AMP_WRAPPER_OF = {'OptimWrapper': 'AmpOptimWrapper',
                  'FiniteLossOptimWrapper': 'FiniteLossAmpOptimWrapper'}


def nonfinite_ranks(finite: bool) -> List[int]:
    """The ranks whose ``finite`` is False, the same list on every rank.

    One all-reduce of a flag per rank (nothing to reduce in a single process); every rank of
    the process group must call it at the same point.
    """
    rank, world_size = get_dist_info()
    flags = torch.zeros(world_size, dtype=torch.int32)
    flags[rank] = int(not finite)
    all_reduce(flags)
    return flags.nonzero().flatten().tolist()


class FiniteLossMixin:
    """``update_params`` of an mmengine optimizer wrapper that drops non-finite steps.

    Non-finite gradients would otherwise corrupt every weight they reach, and the next
    checkpoint with them. When any rank's loss is not finite no rank runs its backward: DDP's
    gradient all-reduce is then entered by none, and the ranks stay in step.

    Attributes:
        nonfinite_ranks: after each ``update_params``, the ranks whose loss was not finite
            (empty when the step went ahead).
    """

    nonfinite_ranks: List[int] = []

    def update_params(self, loss: torch.Tensor, step_kwargs=None, zero_kwargs=None) -> None:
        self.nonfinite_ranks = nonfinite_ranks(bool(torch.isfinite(loss).all()))
        if self.nonfinite_ranks:
            self.zero_grad(**(zero_kwargs or {}))
        else:
            super().update_params(loss, step_kwargs, zero_kwargs)


@OPTIM_WRAPPERS.register_module()
class FiniteLossOptimWrapper(FiniteLossMixin, OptimWrapper):
    """mmengine's OptimWrapper that drops a step (and its gradients) when the loss is not finite
    on any rank (see :class:`FiniteLossMixin`)."""


@OPTIM_WRAPPERS.register_module()
class FiniteLossAmpOptimWrapper(FiniteLossMixin, AmpOptimWrapper):
    """mmengine's AmpOptimWrapper with the non-finite loss guard of :class:`FiniteLossMixin`.

    Two different events: a non-finite *loss* (forward overflow in float16, bad data, divergence)
    is the guard's, and skips the step before the backward, leaving the loss scale alone; a
    finite loss whose scaled gradients overflow is the loss scaler's own business: it skips that
    step and lowers its scale, which is normal while dynamic loss scaling finds its level. Such
    a skip is logged and recorded in ``scaler_skipped``, and never stops training.

    Attributes:
        scaler_skipped: whether the loss scaler skipped the last step for gradient overflow
            (read from the lowered scale, so only dynamic loss scaling reports it).
    """

    scaler_skipped = False

    def update_params(self, loss: torch.Tensor, step_kwargs=None, zero_kwargs=None) -> None:
        self.scaler_skipped = False
        super().update_params(loss, step_kwargs, zero_kwargs)

    def step(self, **kwargs) -> None:
        scale = self.loss_scaler.get_scale()
        super().step(**kwargs)
        new_scale = self.loss_scaler.get_scale()
        self.scaler_skipped = new_scale < scale
        if self.scaler_skipped:
            print_log(f'Gradient overflow in mixed precision with a finite loss: the loss scaler '
                      f'skipped this step and lowered its scale from {scale:g} to '
                      f'{new_scale:g}', logger='current')


def amp_optim_wrapper(optim_wrapper: dict) -> dict:
    """The optim_wrapper config of ``--amp``: its mixed-precision counterpart, same settings.

    Raises:
        PreflightError: for a wrapper type without a known mixed-precision counterpart.
    """
    kind = optim_wrapper.get('type', 'OptimWrapper')
    if kind in AMP_WRAPPER_OF.values():
        return optim_wrapper
    if kind not in AMP_WRAPPER_OF:
        raise PreflightError(f'--amp: no mixed-precision counterpart of optim_wrapper type '
                             f'{kind!r} (known: {", ".join(AMP_WRAPPER_OF)}); set an AMP '
                             'wrapper in the config instead')
    optim_wrapper = dict(optim_wrapper, type=AMP_WRAPPER_OF[kind])
    optim_wrapper.setdefault('loss_scale', 'dynamic')
    return optim_wrapper


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop training at the first non-finite loss on any rank, or log and skip such steps.

    The toolkit's configs set it as ``default_hooks.non_finite_loss``.

    Args:
        skip: go on after a non-finite loss (its step was not applied by
            :class:`FiniteLossOptimWrapper`) instead of stopping.
    """

    priority = 'HIGH'

    def __init__(self, skip: bool = False):
        self.skip = skip

    def before_train(self, runner) -> None:
        if not isinstance(runner.optim_wrapper, FiniteLossMixin):
            print_log(f'NonFiniteLossHook: optim_wrapper {type(runner.optim_wrapper).__name__} '
                      'applies steps whose loss is not finite (and under DDP lets ranks '
                      'disagree); use FiniteLossOptimWrapper or FiniteLossAmpOptimWrapper',
                      logger='current', level=30)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        losses = {name: float(torch.as_tensor(value).detach())
                  for name, value in (outputs or {}).items() if 'loss' in name}
        bad = {name: value for name, value in losses.items() if not math.isfinite(value)}
        ranks = nonfinite_ranks(not bad)
        if not ranks:
            return
        # Name the culprit terms; the total is only news when every term looks finite.
        bad = {name: value for name, value in bad.items() if name != 'loss'} or bad
        terms = ', '.join(f'{name}={value}' for name, value in bad.items())
        if get_dist_info()[1] == 1:
            where = f': {terms}'
        else:
            terms_of_rank = all_gather_object(terms)
            where = ' on ' + '; '.join(f'rank {rank}: {terms_of_rank[rank]}' for rank in ranks)
        if not self.skip:
            amp = ('Under mixed precision, a float16 overflow in the forward pass gives inf too: '
                   "try optim_wrapper.dtype='bfloat16'. "
                   if isinstance(runner.optim_wrapper, AmpOptimWrapper) else '')
            raise FloatingPointError(
                f'Non-finite loss at iteration {runner.iter + 1}{where}. The step was not '
                f'applied. {amp}Lower the learning rate, check the data, or skip such steps: '
                '--cfg-options default_hooks.non_finite_loss.skip=True')
        print_log(f'Skipped the step of iteration {runner.iter + 1}: non-finite loss{where}',
                  logger='current', level=30)
