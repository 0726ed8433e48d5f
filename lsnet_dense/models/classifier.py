"""LSNet for ImageNet classification, structured exactly like the published classifiers.

Used to count the paper's parameters and FLOPs (tools/analysis_tools/get_flops.py --backbone)
and for timm (``lsnet_dense.timm_models``); the published ``lsnet_t.pth`` ... load into it with
``strict=True`` after stripping ``module.``.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .backbones import LSNet
from .layers import Attention

NUM_STAGES = 4


class BNLinear(nn.Sequential):
    """BatchNorm1d then Linear; children ``bn`` and ``l`` as in the published heads.

    Args:
        in_features: pooled feature channels.
        out_features: classes.
    """

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.bn = nn.BatchNorm1d(in_features)
        self.l = nn.Linear(in_features, out_features)  # noqa: E741  published name

    def forward(self, x: Tensor) -> Tensor:
        """(B, in_features) -> (B, out_features)."""
        return self.l(self.bn(x))

    @torch.no_grad()
    def fuse(self) -> nn.Linear:
        """One Linear computing the same function as this module in eval mode."""
        bn, linear = self.bn, self.l
        scale = bn.weight / (bn.running_var + bn.eps).sqrt()
        shift = bn.bias - bn.running_mean * scale
        fused = nn.Linear(linear.in_features, linear.out_features,
                          device=linear.weight.device, dtype=linear.weight.dtype)
        fused.weight.copy_(linear.weight * scale[None, :])
        fused.bias.copy_(linear.bias + linear.weight @ shift)
        return fused


class LSNetClassifier(LSNet):
    """LSNet backbone, global average pooling of the last stage and a BN + Linear head.

    The stage-4 attention learns its position bias on a ``attention_resolution`` grid (4x4 in
    the published classifiers, trained at 224x224 where stage 4 is 4x4), not on the 14x14 grid
    of the dense backbone.

    Args:
        arch: ``'t'``, ``'s'``, ``'b'`` or a custom dict (see :class:`LSNet`).
        num_classes: classes of the head; 0 returns the pooled features.
        distillation: add the ``head_dist`` of the DeiT-style distilled checkpoints; in eval
            mode the two heads' logits are averaged, in training both are returned.
        drop_path_rate: stochastic depth rate.
        attention_resolution: side of the grid of the attention position bias.
        deploy: build the folded structure :meth:`switch_to_deploy` leaves (see
            :class:`LSNet`), with each head one Linear.

    Shapes:
        input ``(B, 3, H, W)``; output ``(B, num_classes)`` logits.
    """

    def __init__(self, arch='t', num_classes: int = 1000, distillation: bool = False,
                 drop_path_rate: float = 0., attention_resolution: int = 4,
                 deploy: bool = False):
        super().__init__(arch, out_indices=(NUM_STAGES - 1,), norm_eval=False,
                         drop_path_rate=drop_path_rate, deploy=deploy)
        for module in self.modules():
            if isinstance(module, Attention):
                module.resample_position_grid(attention_resolution)
        # timm's feature-extraction contract: channels, stride and module of each level.
        self.feature_info = [dict(num_chs=dim, reduction=8 * 2**i, module=f'blocks{i + 1}')
                             for i, dim in enumerate(self.embed_dims)]
        self.num_features = self.embed_dims[-1]
        self.num_classes = num_classes
        self.distillation = distillation
        self.head = self._make_head(num_classes)
        if distillation:
            self.head_dist = self._make_head(num_classes)

    def _make_head(self, num_classes: int) -> nn.Module:
        if num_classes <= 0:
            return nn.Identity()
        # The deploy head is what BNLinear.fuse() returns.
        if self.deploy:
            return nn.Linear(self.num_features, num_classes)
        return BNLinear(self.num_features, num_classes)

    def forward_features(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) -> last-stage features (B, C, ~H/64, ~W/64)."""
        return super().forward(x)[-1]

    def forward_head(self, x: Tensor, pre_logits: bool = False):
        """Features (B, C, h, w) -> logits (B, num_classes), or pooled (B, C) features."""
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        if pre_logits:
            return x
        if not self.distillation:
            return self.head(x)
        logits, logits_dist = self.head(x), self.head_dist(x)
        return (logits, logits_dist) if self.training else (logits + logits_dist) / 2

    def forward(self, x: Tensor):
        """(B, 3, H, W) images -> (B, num_classes) logits."""
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int, global_pool: Optional[str] = None):
        """Replace the head(s) by new ones for ``num_classes`` classes (0: pooled features).

        ``global_pool`` is timm's argument; LSNet pools by averaging only.
        """
        if global_pool not in (None, 'avg'):
            raise ValueError(f"LSNet pools by averaging: global_pool must be 'avg', got "
                             f'{global_pool!r}')
        self.num_classes = num_classes
        self.head = self._make_head(num_classes)
        if self.distillation:
            self.head_dist = self._make_head(num_classes)

    @torch.no_grad()
    def switch_to_deploy(self):
        """Fold the backbone (see :meth:`LSNet.switch_to_deploy`) and the heads' BatchNorms."""
        super().switch_to_deploy()
        for name in ('head', 'head_dist'):
            head = getattr(self, name, None)
            if isinstance(head, BNLinear):
                setattr(self, name, head.fuse())
