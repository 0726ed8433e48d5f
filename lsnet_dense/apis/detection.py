"""mmdet's inference APIs with the toolkit's weight loading (see :mod:`.weights`)::

    from mmdet.apis import inference_detector
    from lsnet_dense.apis.detection import DetInferencer, init_detector

    model = init_detector('configs/retinanet_lsnet_t_coco.py', URL_OR_FILE, device='cpu')
    result = inference_detector(model, 'demo.jpg')
    inferencer = DetInferencer(model='configs/retinanet_lsnet_t_coco.py', weights=URL_OR_FILE)
"""
import warnings
from pathlib import Path
from typing import Optional, Union

from mmdet.apis import DetInferencer as MMDetInferencer
from mmdet.apis import init_detector as mmdet_init_detector
from mmengine.config import Config
from torch import nn

from lsnet_dense.engine import load_model_checkpoint
from .weights import ToolkitWeights, checkpoint_dataset_meta


def init_detector(config: Union[str, Path, Config], checkpoint: Optional[str] = None,
                  palette: str = 'none', device: str = 'cuda:0',
                  cfg_options: Optional[dict] = None) -> nn.Module:
    """``mmdet.apis.init_detector``, same arguments, with ``checkpoint`` a file or URL loaded
    strictly (a published mmdet 2.x file converted in memory). Class names come from the
    checkpoint's meta; the palette as mmdet picks it (argument, then config)."""
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='checkpoint is None')  # the weights follow
        model = mmdet_init_detector(config, None, palette, device, cfg_options)
    if checkpoint is not None:
        classes = checkpoint_dataset_meta(load_model_checkpoint(model, checkpoint))
        if classes:
            model.dataset_meta = {**model.dataset_meta, **classes}
    return model


class DetInferencer(ToolkitWeights, MMDetInferencer):
    """``mmdet.apis.DetInferencer``, same arguments, with ``weights`` a file or URL loaded
    strictly (a published mmdet 2.x file converted in memory)."""
