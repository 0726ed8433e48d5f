"""Building a detector / segmenter from a config for analysis, and synthetic batches for it."""
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import Tensor

from lsnet_dense.engine import load_config, load_model_checkpoint


def build_model_from_config(config: str, cfg_options: Optional[dict] = None,
                            checkpoint: Optional[str] = None, pretrained: bool = False,
                            device: str = 'cpu') -> Tuple[nn.Module, Config]:
    """The model of an mmdet / mmseg config, in eval mode.

    Args:
        config: config file path.
        cfg_options: overrides, as ``--cfg-options`` gives them.
        checkpoint: weights to load strictly into the whole model (an error naming the first
            tensor that does not fit, see :func:`lsnet_dense.engine.load_model_checkpoint`).
        pretrained: keep the backbone's ``init_cfg`` (loading the ImageNet file); by default it
            is dropped, since analysis needs no weights and the file may not be there.
        device: where the model goes.

    Returns:
        ``(model, cfg)``.
    """
    cfg = load_config(config, cfg_options)
    init_default_scope(cfg.default_scope)
    if cfg.default_scope == 'mmdet':
        from mmdet.registry import MODELS
    else:
        from mmseg.registry import MODELS
    if not pretrained:
        cfg.model.backbone.pop('init_cfg', None)
    model = MODELS.build(cfg.model)
    if pretrained:
        model.init_weights()
    if checkpoint is not None:
        load_model_checkpoint(model, checkpoint)
    return model.to(device).eval(), cfg


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
