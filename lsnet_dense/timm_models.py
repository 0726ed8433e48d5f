"""LSNet-T/S/B as timm models (optional: needs ``pip install -e "/path/to/lsnet_dense[timm]"``).

Importing this module registers ``lsnet_t``, ``lsnet_s`` and ``lsnet_b`` in timm::

    import timm
    import lsnet_dense.timm_models  # noqa: F401  registers the models

    # ImageNet classifier with the published weights: lsnet_t.pth, downloaded by timm from the
    # Hugging Face Hub (jameslahm/lsnet) into its cache, $HF_HOME/hub (HF_ENDPOINT: a mirror)
    model = timm.create_model('lsnet_t', pretrained=True)
    # the distilled classifier (lsnet_t_distill.pth) with its second head
    model = timm.create_model('lsnet_t.dist_in1k', pretrained=True, distillation=True)
    # a local copy of a published file instead, read by the toolkit's checkpoint loader
    model = timm.create_model('lsnet_t', pretrained=True,
                              pretrained_cfg_overlay=dict(file='lsnet_t.pth'))
    # the four feature levels (strides 8, 16, 32, 64) for dense prediction, pretrained
    backbone = timm.create_model('lsnet_t', features_only=True, pretrained=True)

Each architecture has two pretrained tags: ``in1k`` (the default, ``lsnet_t.pth``) and
``dist_in1k`` (``lsnet_t_distill.pth``). A download is read by timm itself
(``torch.load(weights_only=True)``, allowing the ``argparse.Namespace`` of the training
arguments); a ``file`` given in ``pretrained_cfg_overlay`` by the toolkit's loader (its allowlist
and ``--trust-checkpoint``). The published checkpoints load into these models as they are (the
same parameter names); a distilled checkpoint's ``head_dist`` is dropped unless the model is built
with ``distillation=True``. ``checkpoint_path=`` loads strictly, so give a distilled file
together with ``distillation=True`` there. Importing :mod:`lsnet_dense` itself never imports
timm.
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
from .checkpoints.hub import HUB_REPO, imagenet_filename
from .models.classifier import LSNetClassifier
from .models.backbones.pretrained import adapt_state_dict

FEATURE_LEVELS = (0, 1, 2, 3)


# Pretrained tags in timm's convention: the ImageNet-1k classifier, and its distilled variant.
PRETRAINED_TAGS = {'in1k': False, 'dist_in1k': True}


def _pretrained_cfg(arch: str, distill: bool) -> dict:
    """Where timm downloads the published classifier (the Hub repository and file) and its
    evaluation settings (DeiT-style: 256 -> 224 crop)."""
    return dict(hf_hub_id=HUB_REPO, hf_hub_filename=imagenet_filename(arch, distill),
                num_classes=1000, input_size=(3, 224, 224), pool_size=(4, 4),
                crop_pct=0.875, interpolation='bicubic', mean=IMAGENET_DEFAULT_MEAN,
                std=IMAGENET_DEFAULT_STD, first_conv='patch_embed.0.c',
                classifier=('head.l', 'head_dist.l'))


# ``in1k`` first: timm makes an architecture's first tag with weights its default.
default_cfgs = generate_default_cfgs({
    f'lsnet_{arch}.{tag}': _pretrained_cfg(arch, distill)
    for arch in 'tsb' for tag, distill in PRETRAINED_TAGS.items()})


def checkpoint_filter_fn(checkpoint: dict, model: LSNetClassifier) -> dict:
    """What timm loaded fitted to ``model``: the state dict of a published training checkpoint
    (a download is the whole DeiT-style file: ``model`` with ``module.`` prefixes, optimizer
    and more) or a bare state dict; ``head_dist`` dropped if the model has none, attention-bias
    tables resampled to the model's grid, and a clear error for another variant."""
    state_dict = strip_wrapper_prefix(stored_state_dict(checkpoint, 'the pretrained checkpoint'))
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
