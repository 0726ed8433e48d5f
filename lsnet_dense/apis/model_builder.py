"""A detector / segmenter from its config: weights loaded strictly, optionally folded for
inference."""
from typing import Optional, Tuple

import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import init_default_scope

from lsnet_dense.engine import load_config, load_model_checkpoint
from lsnet_dense.models.deploy import deploy_model


def build_model_from_config(config: str, cfg_options: Optional[dict] = None,
                            checkpoint: Optional[str] = None, pretrained: bool = False,
                            device: str = 'cpu', deploy: bool = False
                            ) -> Tuple[nn.Module, Config]:
    """The model of an mmdet / mmseg config, in eval mode.

    Args:
        config: config file path.
        cfg_options: overrides, as ``--cfg-options`` gives them.
        checkpoint: weights to load strictly into the whole model (an error naming the first
            tensor that does not fit, see :func:`lsnet_dense.engine.load_model_checkpoint`).
        pretrained: keep the backbone's ``init_cfg`` (loading the ImageNet file); by default it
            is dropped, since analysis needs no weights and the file may not be there.
        device: where the model goes.
        deploy: fold the backbone for inference (:func:`deploy_model`) after loading.

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
    if deploy:
        deploy_model(model)
    return model.to(device).eval(), cfg
