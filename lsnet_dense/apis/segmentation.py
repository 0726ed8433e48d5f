"""mmseg's inference APIs with the toolkit's weight loading (see :mod:`.weights`)::

    from mmseg.apis import inference_model
    from lsnet_dense.apis.segmentation import MMSegInferencer, init_model

    model = init_model('configs/semfpn_lsnet_t_ade20k.py', URL_OR_FILE, device='cpu')
    result = inference_model(model, 'demo.jpg')
    inferencer = MMSegInferencer(model='configs/semfpn_lsnet_t_ade20k.py', weights=URL_OR_FILE)
"""
import warnings
from pathlib import Path
from typing import Optional, Union

from mmengine.config import Config
from mmseg.apis import MMSegInferencer as MMSegInferencerBase
from mmseg.apis import init_model as mmseg_init_model
from torch import nn

from lsnet_dense.engine import load_model_checkpoint
from .weights import ToolkitWeights, checkpoint_dataset_meta


def init_model(config: Union[str, Path, Config], checkpoint: Optional[str] = None,
               device: str = 'cuda:0', cfg_options: Optional[dict] = None) -> nn.Module:
    """``mmseg.apis.init_model``, same arguments, with ``checkpoint`` a file or URL loaded
    strictly (a published mmseg 0.x file converted in memory); class names and palette from
    the checkpoint's meta."""
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='.*(checkpoint|weights) is None')
        model = mmseg_init_model(config, None, device, cfg_options)
    if checkpoint is not None:
        dataset_meta = checkpoint_dataset_meta(load_model_checkpoint(model, checkpoint))
        if dataset_meta:
            model.dataset_meta = {**(getattr(model, 'dataset_meta', None) or {}),
                                  **dataset_meta}
    return model


class MMSegInferencer(ToolkitWeights, MMSegInferencerBase):
    """``mmseg.apis.MMSegInferencer``, same arguments, with ``weights`` a file or URL loaded
    strictly (a published mmseg 0.x file converted in memory)."""
