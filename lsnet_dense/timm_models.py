"""LSNet-T/S/B as timm models (optional: needs ``pip install -e "/path/to/lsnet_dense[timm]"``).

Importing this module registers ``lsnet_t``, ``lsnet_s`` and ``lsnet_b`` in timm::

    import timm
    import lsnet_dense.timm_models  # noqa: F401  registers the models

    # ImageNet classifier with a published checkpoint (lsnet_t.pth from the LSNet release)
    model = timm.create_model('lsnet_t', pretrained=True,
                              pretrained_cfg_overlay=dict(file='lsnet_t.pth'))
    # the four feature levels (strides 8, 16, 32, 64) for dense prediction
    backbone = timm.create_model('lsnet_t', features_only=True)

The published checkpoints load into these models as they are (the same parameter names); a
distilled checkpoint's ``head_dist`` is dropped unless the model is built with
``distillation=True``. ``checkpoint_path=`` loads strictly, so give a distilled file together
with ``distillation=True`` there. Importing :mod:`lsnet_dense` itself never imports timm.
"""
from functools import partial

try:
    from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
    from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
except ImportError as error:  # timm is missing, or its torchvision import failed
    raise ImportError(
        'lsnet_dense.timm_models needs timm (which imports torchvision); importing timm failed: '
        f'{error}. Install it with the package\'s extra: pip install -e '
        '"/path/to/lsnet_dense[timm]" (torchvision must match your torch version).') from error

from .checkpoints import load_checkpoint_file, stored_state_dict, strip_wrapper_prefix
from .models.classifier import LSNetClassifier
from .models.backbones.pretrained import adapt_state_dict

FEATURE_LEVELS = (0, 1, 2, 3)


def _pretrained_cfg() -> dict:
    """Evaluation settings of the published classifiers (DeiT-style: 256 -> 224 crop)."""
    return dict(url='', num_classes=1000, input_size=(3, 224, 224), pool_size=(4, 4),
                crop_pct=0.875, interpolation='bicubic', mean=IMAGENET_DEFAULT_MEAN,
                std=IMAGENET_DEFAULT_STD, first_conv='patch_embed.0.c',
                classifier=('head.l', 'head_dist.l'))


default_cfgs = generate_default_cfgs({f'lsnet_{arch}': _pretrained_cfg() for arch in 'tsb'})


def checkpoint_filter_fn(state_dict: dict, model: LSNetClassifier) -> dict:
    """A published classification state dict (timm already removed ``model`` / ``module.``)
    fitted to ``model``: ``head_dist`` dropped if the model has none, attention-bias tables
    resampled to the model's grid, and a clear error for another variant."""
    if not hasattr(model, 'head_dist'):
        state_dict = {k: v for k, v in state_dict.items() if not k.startswith('head_dist.')}
    return adapt_state_dict(state_dict, model.state_dict(), 'the pretrained checkpoint')[0]


def _build_classifier(arch: str, in_chans: int = 3, **kwargs) -> LSNetClassifier:
    if in_chans != 3:
        raise ValueError(f'LSNet takes RGB images (in_chans=3), got in_chans={in_chans}')
    return LSNetClassifier(arch, **kwargs)


def _read_pretrained_file(overlay: dict) -> dict:
    """``pretrained_cfg_overlay`` with its ``file`` read by the toolkit's checkpoint loader (its
    allowlist, errors and ``--trust-checkpoint``) and handed to timm as the state dict."""
    checkpoint = load_checkpoint_file(overlay['file'])
    state_dict = strip_wrapper_prefix(stored_state_dict(checkpoint, overlay['file']))
    return dict(overlay, file=None, state_dict=state_dict)


def _create(arch: str, pretrained: bool, **kwargs) -> LSNetClassifier:
    if pretrained and (kwargs.get('pretrained_cfg_overlay') or {}).get('file'):
        kwargs['pretrained_cfg_overlay'] = _read_pretrained_file(kwargs['pretrained_cfg_overlay'])
    return build_model_with_cfg(
        partial(_build_classifier, arch), f'lsnet_{arch}', pretrained,
        pretrained_filter_fn=checkpoint_filter_fn,
        feature_cfg=dict(out_indices=FEATURE_LEVELS), **kwargs)


@register_model
def lsnet_t(pretrained: bool = False, **kwargs) -> LSNetClassifier:
    """LSNet-T: 11.4 M parameters, 0.3 GFLOPs at 224x224, 74.9 % ImageNet top-1."""
    return _create('t', pretrained, **kwargs)


@register_model
def lsnet_s(pretrained: bool = False, **kwargs) -> LSNetClassifier:
    """LSNet-S: 16.1 M parameters, 0.5 GFLOPs at 224x224, 77.8 % ImageNet top-1."""
    return _create('s', pretrained, **kwargs)


@register_model
def lsnet_b(pretrained: bool = False, **kwargs) -> LSNetClassifier:
    """LSNet-B: 23.2 M parameters, 1.3 GFLOPs at 224x224, 80.3 % ImageNet top-1."""
    return _create('b', pretrained, **kwargs)
