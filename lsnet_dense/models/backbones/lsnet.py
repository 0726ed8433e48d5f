import warnings
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from ..layers import Block, Conv2dBN, RepVGGDW, build_conv2d_bn
from .pretrained import load_pretrained

NUM_STAGES = 4
KEY_DIM = 16


class LSNet(nn.Module):
    """LSNet backbone ("LSNet: See Large, Focus Small", CVPR 2025) for dense prediction.

    A stride-8 convolutional patch embedding, then four stages; stages 2-4 start with a stride-2
    depth-wise + point-wise down-sampling. Parameter names follow the published checkpoints.

    Args:
        arch: ``'t'``, ``'s'``, ``'b'``, or a dict with ``embed_dims``, ``depths`` and
            ``num_heads`` (four entries each).
        out_indices: stages whose outputs are returned (0-3; strides 8, 16, 32, 64).
        frozen_stages: -1 trains everything; 0 freezes the patch embedding; k >= 1 also freezes
            stages 1..k. Frozen parts stay in eval mode and get no gradients.
        norm_eval: keep every BatchNorm in eval mode (frozen running statistics) while training,
            as the published detection and segmentation models were trained.
        drop_path_rate: stochastic depth rate, increasing linearly over the blocks.
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH)``: :meth:`init_weights` loads a
            published ImageNet checkpoint, the backbone of a published detector/segmenter, or a
            bare state dict (mmengine's models call it when they are initialised).
        pretrained: deprecated alias of ``init_cfg=dict(type='Pretrained', checkpoint=PATH)``,
            as in mmseg's own backbones (mmseg's ``EncoderDecoder`` passes its model-level
            ``pretrained`` here). Giving both is an error.
        deploy: build the folded structure :meth:`switch_to_deploy` leaves (every RepVGGDW one
            depth-wise 3x3 conv, every Conv+BN unit a conv with bias; the BatchNorm after each
            LS convolution's SKA stays), into which a folded model's state dict (e.g. written by
            ``tools/model_converters/reparameterize.py``) loads strictly. Its parameter names
            differ from the published checkpoints'; it can still be trained (no BatchNorm to
            fold there).

    Shapes:
        input ``(B, 3, H, W)``; output a tuple with, for each stage ``i`` in ``out_indices``,
        ``(B, embed_dims[i], ~H / 2**(i+3), ~W / 2**(i+3))`` (each stride-2 step rounds up).
    """

    arch_settings = {
        't': dict(embed_dims=(64, 128, 256, 384), depths=(0, 2, 8, 10), num_heads=(3, 3, 3, 4)),
        's': dict(embed_dims=(96, 192, 320, 448), depths=(1, 2, 8, 10), num_heads=(3, 3, 3, 4)),
        'b': dict(embed_dims=(128, 256, 384, 512), depths=(4, 6, 8, 10), num_heads=(3, 3, 3, 4)),
    }

    def __init__(self, arch: Union[str, Dict] = 't', out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1, norm_eval: bool = True, drop_path_rate: float = 0.,
                 init_cfg: Union[Dict, None] = None, pretrained: Optional[str] = None,
                 deploy: bool = False):
        super().__init__()
        self.init_cfg = self.check_init_cfg(self.merge_pretrained(pretrained, init_cfg))
        settings = self.parse_arch(arch)
        self.embed_dims = settings['embed_dims']
        self.out_indices = self.check_out_indices(out_indices)
        if not -1 <= frozen_stages <= NUM_STAGES:
            raise ValueError(f'frozen_stages must be in -1..{NUM_STAGES}, got {frozen_stages}')
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.deploy = deploy

        dims, depths, heads = self.embed_dims, settings['depths'], settings['num_heads']
        self.patch_embed = nn.Sequential(
            build_conv2d_bn(3, dims[0] // 4, 3, 2, 1, deploy=deploy), nn.ReLU(),
            build_conv2d_bn(dims[0] // 4, dims[0] // 2, 3, 2, 1, deploy=deploy), nn.ReLU(),
            build_conv2d_bn(dims[0] // 2, dims[0], 3, 2, 1, deploy=deploy))
        drop_rates = torch.linspace(0, drop_path_rate, max(sum(depths), 1)).tolist()
        for i in range(NUM_STAGES):
            layers = []
            if i > 0:
                layers += [build_conv2d_bn(dims[i - 1], dims[i - 1], 3, 2, 1,
                                           groups=dims[i - 1], deploy=deploy),
                           build_conv2d_bn(dims[i - 1], dims[i], 1, deploy=deploy)]
            for depth_index in range(depths[i]):
                layers.append(Block(
                    dims[i], KEY_DIM, heads[i], attn_ratio=dims[i] / (KEY_DIM * heads[i]),
                    depth_index=depth_index, is_last_stage=i == NUM_STAGES - 1,
                    drop_path=drop_rates[sum(depths[:i]) + depth_index], deploy=deploy))
            self.add_module(f'blocks{i + 1}', nn.Sequential(*layers))
        self._freeze_stages()

    @staticmethod
    def merge_pretrained(pretrained: Optional[str], init_cfg: Union[Dict, None]):
        """``init_cfg`` with mmseg's deprecated ``pretrained=PATH`` folded in."""
        if pretrained is None:
            return init_cfg
        if init_cfg is not None:
            raise ValueError(
                f'LSNet got both pretrained={pretrained!r} and init_cfg={init_cfg!r}; give one. '
                'A stock mmseg config sets a model-level pretrained (e.g. a ResNet URL) that '
                'mmseg hands to the backbone: set model.pretrained=None when you swap in LSNet.')
        if not isinstance(pretrained, str):
            raise TypeError(f'LSNet pretrained must be a checkpoint path, got {pretrained!r}')
        warnings.warn('LSNet: pretrained is deprecated, use '
                      f'init_cfg=dict(type="Pretrained", checkpoint={pretrained!r})',
                      FutureWarning, stacklevel=3)
        return dict(type='Pretrained', checkpoint=pretrained)

    @staticmethod
    def check_init_cfg(init_cfg: Union[Dict, None]) -> Union[Dict, None]:
        if init_cfg is not None and not (isinstance(init_cfg, dict)
                                         and init_cfg.get('type') == 'Pretrained'
                                         and init_cfg.get('checkpoint')):
            raise ValueError(f"LSNet init_cfg must be None or dict(type='Pretrained', "
                             f'checkpoint=PATH), got {init_cfg!r}')
        return init_cfg

    @classmethod
    def parse_arch(cls, arch: Union[str, Dict]) -> Dict:
        """Settings dict of a named variant or a validated custom one."""
        if isinstance(arch, str):
            name = arch.lower().removeprefix('lsnet_')
            if name not in cls.arch_settings:
                raise ValueError(f'Unknown LSNet arch {arch!r}: use one of '
                                 f'{sorted(cls.arch_settings)} or a dict with embed_dims, depths '
                                 'and num_heads')
            return cls.arch_settings[name]
        if not isinstance(arch, dict):
            raise TypeError(f'LSNet arch must be a str or a dict, got {type(arch).__name__}')
        missing = {'embed_dims', 'depths', 'num_heads'} - set(arch)
        if missing:
            raise ValueError(f'Custom LSNet arch lacks {sorted(missing)}')
        settings = {k: tuple(arch[k]) for k in ('embed_dims', 'depths', 'num_heads')}
        for key, values in settings.items():
            if len(values) != NUM_STAGES:
                raise ValueError(f'LSNet arch {key} needs {NUM_STAGES} entries, got {values}')
        if any(d % 8 for d in settings['embed_dims']):
            raise ValueError('LSNet embed_dims must be multiples of 8 (LS convolution shares one '
                             f'filter per 8 channels), got {settings["embed_dims"]}')
        return settings

    @staticmethod
    def check_out_indices(out_indices: Sequence[int]) -> Tuple[int, ...]:
        out_indices = tuple(out_indices)
        bad = [i for i in out_indices if not 0 <= i < NUM_STAGES]
        if bad or not out_indices:
            raise ValueError(f'LSNet out_indices must be non-empty and within 0..{NUM_STAGES - 1} '
                             f'(strides 8, 16, 32, 64), got {out_indices}')
        return out_indices

    @property
    def stages(self) -> Tuple[nn.Sequential, ...]:
        return tuple(getattr(self, f'blocks{i + 1}') for i in range(NUM_STAGES))

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """(B, 3, H, W) images -> tuple of stage features (see the class docstring)."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f'LSNet expects images of shape (B, 3, H, W), got {tuple(x.shape)}')
        x = self.patch_embed(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self):
        frozen = [self.patch_embed] if self.frozen_stages >= 0 else []
        frozen += list(self.stages[:max(self.frozen_stages, 0)])
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        """Set train mode, keeping frozen stages and (with ``norm_eval``) BatchNorms in eval."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self

    def init_weights(self):
        """Load the checkpoint named by ``init_cfg`` (if any): see :func:`.load_pretrained`.

        Without one the weights stay as constructed (PyTorch's defaults).
        """
        if self.init_cfg is not None:
            load_pretrained(self, self.init_cfg['checkpoint'])

    @torch.no_grad()
    def switch_to_deploy(self):
        """Fold every RepVGGDW into one depth-wise 3x3 conv and every Conv2dBN into a conv.

        The outputs equal the eval-mode outputs of the unfused model; the structure is the one
        ``deploy=True`` builds, so the folded state dict loads into such a model strictly.
        """
        self.eval()
        # RepVGGDW first: it folds the Conv2dBNs it contains itself.
        for fusable in (RepVGGDW, Conv2dBN):
            for name, module in list(self.named_modules()):
                if isinstance(module, fusable):
                    parent, _, child = name.rpartition('.')
                    setattr(self.get_submodule(parent), child, module.fuse())
        self.deploy = True
