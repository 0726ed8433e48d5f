"""One training step of a detector / segmenter, as the benchmark of the compiled path runs it:
synthetic targets, the operator count of a step, losses and gradients to compare."""
from typing import Callable, Dict, List, Tuple

import torch
import torch.nn as nn
from torch import Tensor
from torch.profiler import ProfilerActivity, profile

from .tensor_forward import synthetic_batch


def synthetic_training_batch(scope: str, batch: int, height: int, width: int, num_classes: int,
                             seed: int = 0) -> Tuple[Tensor, List]:
    """:func:`synthetic_batch` with ground truth: three boxes per image (mmdet) or a label
    map of horizontal bands (mmseg), drawn from ``seed``.

    Returns:
        ``(inputs (B, 3, H, W), data_samples)``.
    """
    gen = torch.Generator().manual_seed(seed)
    inputs, samples = synthetic_batch(scope, batch, height, width)
    inputs = torch.randn(inputs.shape, generator=gen)
    for sample in samples:
        if scope == 'mmdet':
            from mmengine.structures import InstanceData
            corners = torch.rand(3, 2, 2, generator=gen) * torch.tensor([width, height])
            boxes = torch.cat([corners.min(1).values, corners.max(1).values + 8], dim=1)
            sample.gt_instances = InstanceData(
                bboxes=boxes, labels=torch.randint(num_classes, (3,), generator=gen))
        else:
            from mmengine.structures import PixelData
            bands = torch.randint(num_classes, (height // 8 + 1,), generator=gen)
            labels = bands.repeat_interleave(8)[:height, None].expand(height, width)
            sample.gt_sem_seg = PixelData(data=labels[None].clone())
    return inputs, samples


def training_loss(model: nn.Module, inputs: Tensor, samples: List) -> Tensor:
    """The sum of the model's losses for one batch, as mmengine's ``parse_losses`` adds them."""
    losses = model.loss(inputs, samples)
    return sum(value.sum() if isinstance(value, Tensor) else sum(v.sum() for v in value)
               for name, value in losses.items() if 'loss' in name)


def gradients(model: nn.Module) -> Dict[str, Tensor]:
    """A copy of every parameter's gradient, by name."""
    return {name: p.grad.detach().clone() for name, p in model.named_parameters()
            if p.grad is not None}


def count_top_level_ops(step: Callable[[], object]) -> int:
    """How many aten operators ``step()`` calls directly (from Python, the autograd engine or
    a compiled graph), not counting those that run inside another aten operator.

    On a GPU each of them is at least one kernel launch, which is what bounds a small model's
    training step.
    """
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    count = 0
    for event in prof.events():
        if not event.name.startswith('aten::'):
            continue
        parent = event.cpu_parent
        while parent is not None and not parent.name.startswith('aten::'):
            parent = parent.cpu_parent
        count += parent is None
    return count
