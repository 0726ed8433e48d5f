"""Synthetic inputs for analysing a detector / segmenter, and its forward as tensors in and out."""
from typing import List, Tuple

import torch
import torch.nn as nn
from torch import Tensor


def synthetic_batch(scope: str, batch: int, height: int, width: int, device: str = 'cpu'
                    ) -> Tuple[Tensor, List]:
    """Random normalised images and data samples with the meta information heads need.

    Args:
        scope: ``'mmdet'`` or ``'mmseg'``.
        batch, height, width: input size (images are not resized or padded).

    Returns:
        ``(inputs (B, 3, H, W), data_samples)``.
    """
    shape = (height, width)
    meta = dict(img_shape=shape, ori_shape=shape, pad_shape=shape, batch_input_shape=shape)
    if scope == 'mmdet':
        from mmdet.structures import DetDataSample
        samples = [DetDataSample(metainfo=dict(meta, scale_factor=(1., 1.)))
                   for _ in range(batch)]
    else:
        from mmseg.structures import SegDataSample
        samples = [SegDataSample(metainfo=dict(meta, padding_size=[0, 0, 0, 0]))
                   for _ in range(batch)]
    inputs = torch.randn(batch, 3, height, width, device=device)
    return inputs, samples


class TensorForward(nn.Module):
    """A detector / segmenter whose forward maps images to its heads' raw outputs.

    ``forward(images)`` runs ``model._forward(images, data_samples)`` (mmdet / mmseg "tensor"
    mode: no post-processing, for two-stage detectors the RoI head on the RPN's proposals), so
    that tracing tools see a plain tensor-in, tensors-out module.
    """

    def __init__(self, model: nn.Module, data_samples: List):
        super().__init__()
        self.model = model
        self.data_samples = data_samples

    def forward(self, images: Tensor):
        return self.model._forward(images, self.data_samples)
