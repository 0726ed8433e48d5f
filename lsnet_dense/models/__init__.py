"""The LSNet model in plain PyTorch: layers, the backbone and the ImageNet classifier.

The neck (:mod:`lsnet_dense.models.necks`) is built on mmdet's / mmseg's FPN and imported with
the OpenMMLab side.
"""
from .backbones import LSNet
from .classifier import LSNetClassifier

__all__ = ['LSNet', 'LSNetClassifier']
