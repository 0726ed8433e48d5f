"""Weights for mmdet's and mmseg's inference APIs, read the toolkit's way.

Their own ``init_detector`` / ``init_model`` and inferencers read ``weights`` through mmengine's
``load_checkpoint`` with ``strict=False``: a checkpoint of another variant only logs a warning,
a published mmdet 2.x / mmseg 0.x file is taken as it is, and URLs are unpickled fully. Their
reading step cannot be replaced without patching those libraries, so the equivalents in
:mod:`.detection` and :mod:`.segmentation` build the model with it skipped and load the weights
with :func:`lsnet_dense.engine.load_model_checkpoint`: file or URL, the safe loader, a published
file converted in memory, and strict.
"""
from typing import Optional

from lsnet_dense.engine import load_model_checkpoint


class ToolkitWeights:
    """Inferencer mixin (before mmdet's ``DetInferencer`` / mmseg's ``MMSegInferencer``): the
    weights go through :func:`load_model_checkpoint`, the class names and palette through the
    library's own handling of the checkpoint's meta. ``model`` (the config) is required."""

    def _init_model(self, cfg, weights: Optional[str], device: str = 'cpu'):
        self._weights = weights
        return super()._init_model(cfg, None, device)

    def _load_weights_to_model(self, model, checkpoint, cfg):
        if checkpoint is None and self._weights is not None:
            checkpoint = load_model_checkpoint(model, self._weights)
        super()._load_weights_to_model(model, checkpoint, cfg)


def checkpoint_dataset_meta(checkpoint: dict) -> Optional[dict]:
    """The class names (and palette) a checkpoint's meta holds, keys in lower case as the
    mmdet 3.x / mmseg 1.x models keep them; None when it holds none."""
    meta = checkpoint.get('meta') or {}
    if meta.get('dataset_meta'):
        return {key.lower(): value for key, value in meta['dataset_meta'].items()}
    return None
