"""Converting published LSNet checkpoints into files this toolkit loads with ``strict=True``.

Two kinds of published files are handled:

* ImageNet classification (``lsnet_t.pth`` ...; ``model`` with ``head`` / ``head_dist`` and 4x4
  attention-bias tables) becomes a backbone-only pretrained file: ``state_dict`` keyed as in
  :class:`LSNet`, the heads dropped, the tables resized bicubically to 14x14 and the stored
  ``attention_bias_idxs`` replaced by the 196x196 ones of the model;
* RetinaNet / Mask R-CNN (mmdet 2.x) and Semantic FPN (mmseg 0.x) checkpoints (``state_dict``
  with ``backbone.``, ``neck.`` and head keys, plus ``meta``) become mmdet 3.x / mmseg 1.x
  checkpoints. The heads these models use (RetinaHead; RPNHead with StandardRoIHead,
  Shared2FCBBoxHead and FCNMaskHead; FPNHead) name their parameters identically in both
  generations, so neck and head keys pass through unchanged; the meta's ``CLASSES`` /
  ``PALETTE`` move to ``meta['dataset_meta']`` where the 3.x inferencers and visualizers look.

The variant (t / s / b) is detected from the backbone's tensor shapes.
"""
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Dict, List, Mapping, Optional, Tuple

from torch import Tensor

from lsnet_dense.models.backbones.lsnet import LSNet
from lsnet_dense.models.backbones.pretrained import adapt_state_dict, extract_backbone_state_dict
from .reading import WRAPPER_PREFIX, stored_state_dict

VARIANTS = ('t', 's', 'b')
BACKBONE_PREFIX = 'backbone.'
TENSOR_ENTRIES = ('model', 'state_dict')
# Where mmdet 2.x / mmseg 0.x kept the class names and colours, and where 3.x / 1.x look.
META_RENAMES = {'CLASSES': 'classes', 'PALETTE': 'palette'}


@dataclass
class ConversionReport:
    """What a conversion did to every key, for the user to check.

    Attributes:
        source: the converted file.
        layout: ``'classification'``, ``'detection/segmentation'`` or ``'backbone'``.
        arch: the detected LSNet variant.
        renamed: ``(old, new)`` key pairs.
        dropped: ``(key, reason)`` pairs: tensors and top-level entries left out.
        resized: ``(key, old shape, new shape)`` of resized attention-bias tables.
        replaced: ``(key, old shape, new shape)`` of stored ``attention_bias_idxs`` swapped for
            the model's own.
        unplaced: keys the target model has no place for (left out).
        unchecked: keys kept without a target to check them against.
        meta: notes on the translation of ``meta``.
    """

    source: str
    layout: str = ''
    arch: str = ''
    renamed: List[Tuple[str, str]] = field(default_factory=list)
    dropped: List[Tuple[str, str]] = field(default_factory=list)
    resized: List[Tuple[str, tuple, tuple]] = field(default_factory=list)
    replaced: List[Tuple[str, tuple, tuple]] = field(default_factory=list)
    unplaced: List[str] = field(default_factory=list)
    unchecked: List[str] = field(default_factory=list)
    meta: List[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f'{self.source}: {self.layout} checkpoint of LSNet-{self.arch.upper()}; '
                f'{len(self.renamed)} keys renamed, {len(self.dropped)} dropped, '
                f'{len(self.resized)} bias tables resized, {len(self.replaced)} bias indices '
                f'replaced, {len(self.unplaced)} could not be placed, {len(self.unchecked)} kept '
                'unchecked')

    def format(self) -> str:
        """The summary, then every key under its heading."""
        lines = [self.summary()]
        sections = [
            ('renamed', [f'{old} -> {new}' for old, new in self.renamed]),
            ('dropped', [f'{key} ({reason})' for key, reason in self.dropped]),
            ('resized', [f'{key}: {old} -> {new}' for key, old, new in self.resized]),
            ('replaced by the model\'s own index',
             [f'{key}: {old} -> {new}' for key, old, new in self.replaced]),
            ('could not be placed in the target model (left out)', self.unplaced),
            ('kept unchecked (no target model given)', self.unchecked),
            ('meta', self.meta),
        ]
        for title, items in sections:
            if items:
                lines.append(f'{title} ({len(items)}):')
                lines += [f'  {item}' for item in items]
        return '\n'.join(lines)


@lru_cache(maxsize=None)
def _variant_shapes(arch: str) -> Dict[str, tuple]:
    """Shapes of the state dict of an LSNet variant (built once)."""
    return {k: tuple(v.shape) for k, v in LSNet(arch).state_dict().items()}


def _shape_differences(backbone: Mapping[str, Tensor], arch: str) -> List[str]:
    """Why ``backbone`` is not LSNet-``arch``: missing tensors and shape mismatches.

    Attention-bias tables and indices may cover any grid (they are resized or replaced).
    """
    differences = []
    for key, shape in _variant_shapes(arch).items():
        if key not in backbone:
            differences.append(f'{key} missing')
        elif key.endswith('attention_bias_idxs'):
            continue
        elif key.endswith('attention_biases'):
            if backbone[key].shape[0] != shape[0]:
                differences.append(f'{key}: {backbone[key].shape[0]} heads vs {shape[0]}')
        elif tuple(backbone[key].shape) != shape:
            differences.append(f'{key}: {tuple(backbone[key].shape)} vs {shape}')
    return differences


def detect_arch(backbone: Mapping[str, Tensor], source: str = 'checkpoint',
                expected: Optional[str] = None) -> str:
    """The LSNet variant whose every tensor ``backbone`` holds with the right shape.

    Args:
        backbone: backbone tensors keyed as in :class:`LSNet`.
        source: the file name, for error messages.
        expected: the variant the caller asked for; another one is refused.

    Raises:
        ValueError: no variant fits (another architecture), or not the ``expected`` one.
    """
    if expected is not None and expected not in VARIANTS:
        raise ValueError(f'Unknown LSNet arch {expected!r}: use one of {list(VARIANTS)}')
    differences = {arch: _shape_differences(backbone, arch) for arch in VARIANTS}
    fitting = [arch for arch, diff in differences.items() if not diff]
    if not fitting:
        if not set(backbone) & set(_variant_shapes('t')):
            raise ValueError(f'{source} holds no LSNet backbone weights (keys such as '
                             f'{sorted(backbone)[:3]} are not LSNet parameters)')
        closest = min(VARIANTS, key=lambda arch: len(differences[arch]))
        raise ValueError(f'{source} is not an LSNet-T, -S or -B checkpoint: the closest, '
                         f'LSNet-{closest.upper()}, differs in {len(differences[closest])} '
                         'tensors:\n  ' + '\n  '.join(differences[closest][:10]))
    arch = fitting[0]
    if expected is not None and arch != expected:
        stem = backbone['patch_embed.0.c.weight'].shape
        raise ValueError(f'{source} holds LSNet-{arch.upper()} weights (detected from tensor '
                         f'shapes, e.g. patch_embed.0.c.weight {tuple(stem)}), but LSNet-'
                         f'{expected.upper()} was asked for; convert it with arch {arch!r} or '
                         'use the matching file')
    return arch


def _layout(checkpoint: dict, state_dict: Mapping[str, Tensor]) -> str:
    if any(k.startswith(BACKBONE_PREFIX) for k in state_dict):
        return 'detection/segmentation'
    return 'classification' if 'model' in checkpoint else 'backbone'


def _strip_module_prefix(state_dict: Mapping[str, Tensor], report: ConversionReport
                         ) -> Dict[str, Tensor]:
    """Keys without the ``module.`` of (Distributed)DataParallel wrappers."""
    stripped = {}
    for key, value in state_dict.items():
        new_key = key.removeprefix(WRAPPER_PREFIX)
        if new_key != key:
            report.renamed.append((key, new_key))
        stripped[new_key] = value
    return stripped


def _convert_meta(checkpoint: dict, report: ConversionReport) -> dict:
    """The 3.x meta: ``dataset_meta`` from 2.x ``CLASSES`` / ``PALETTE``, epoch and iter kept."""
    old = checkpoint.get('meta') or {}
    meta = {key: old[key] for key in ('epoch', 'iter') if key in old}
    dataset_meta = dict(old.get('dataset_meta') or {})
    for old_key, new_key in META_RENAMES.items():
        if old.get(old_key) is not None:
            dataset_meta[new_key] = list(old[old_key]) if new_key == 'palette' else tuple(
                old[old_key])
            report.meta.append(f'meta.{old_key} -> meta.dataset_meta.{new_key}')
    if dataset_meta:
        meta['dataset_meta'] = dataset_meta
    left_out = sorted(set(old) - set(meta) - set(META_RENAMES) - {'dataset_meta'})
    if left_out:
        report.meta.append(f'left out meta entries {left_out} (2.x run information)')
    return meta


def _fit_backbone(backbone: Dict[str, Tensor], arch: str, report: ConversionReport,
                  prefix: str) -> Dict[str, Tensor]:
    """Resize bias tables, swap bias indices and leave out what LSNet has no place for.

    ``prefix`` is the backbone's key prefix in the converted file, for the report.
    """
    target = LSNet(arch).state_dict()
    adapted, _ = adapt_state_dict(backbone, target, report.source)
    fitted = {}
    for key, value in adapted.items():
        if key not in target:
            report.unplaced.append(prefix + key)
            continue
        if key.endswith('attention_bias_idxs'):
            report.replaced.append((prefix + key, tuple(backbone[key].shape),
                                    tuple(value.shape)))
        elif value.shape != backbone[key].shape:
            report.resized.append((prefix + key, tuple(backbone[key].shape),
                                   tuple(value.shape)))
        fitted[key] = value
    return fitted


def _check_against_target(state_dict: Dict[str, Tensor], target: Mapping[str, Tensor],
                          report: ConversionReport) -> Dict[str, Tensor]:
    """Leave out keys the target model lacks; refuse missing tensors and shape mismatches."""
    placed = {}
    mismatches = []
    for key, value in state_dict.items():
        if key not in target:
            report.unplaced.append(key)
        elif tuple(value.shape) != tuple(target[key].shape):
            mismatches.append(f'{key}: checkpoint {tuple(value.shape)} vs model '
                              f'{tuple(target[key].shape)}')
        else:
            placed[key] = value
    missing = [key for key in target if key not in state_dict]
    if mismatches or missing:
        problems = [f'shape mismatch: {m}' for m in mismatches] + [f'missing: {k}'
                                                                   for k in missing]
        raise ValueError(f'{report.source} does not fit the target model (another detector, '
                         f'head or number of classes?): {len(mismatches)} shape mismatches, '
                         f'{len(missing)} missing tensors:\n  ' + '\n  '.join(problems[:20]))
    return placed


def convert_checkpoint(checkpoint: dict, source: str = 'checkpoint', arch: Optional[str] = None,
                       target: Optional[Mapping[str, Tensor]] = None
                       ) -> Tuple[dict, ConversionReport]:
    """Convert a published LSNet checkpoint (see the module docstring).

    Args:
        checkpoint: what ``torch.load`` returned for the published file.
        source: the file name, for messages.
        arch: the variant the file must hold (``'t'``, ``'s'``, ``'b'``); None accepts any.
        target: ``state_dict()`` of the detector / segmenter the converted file is for; when
            given, the result is checked to load into it with ``strict=True``. Ignored for
            classification files (their target is the LSNet backbone itself).

    Returns:
        ``(converted, report)``; ``converted`` is ``{'state_dict': ..., 'meta': ...}``.

    Raises:
        ValueError: the file is not LSNet, is another variant than ``arch``, or does not fit
            ``target``.
    """
    report = ConversionReport(source)
    report.dropped += [(entry, 'top-level entry, not model weights')
                       for entry in checkpoint if entry not in TENSOR_ENTRIES + ('meta',)]
    state_dict = _strip_module_prefix(stored_state_dict(checkpoint, source), report)
    report.layout = _layout(checkpoint, state_dict)
    backbone, others = extract_backbone_state_dict(state_dict, source)
    report.arch = detect_arch(backbone, source, arch)
    meta = _convert_meta(checkpoint, report)
    meta['lsnet_arch'] = report.arch

    if report.layout != 'detection/segmentation':
        backbone = _fit_backbone(backbone, report.arch, report, prefix='')
        report.dropped += [(key, 'classification head') for key in others]
        return {'state_dict': backbone, 'meta': meta}, report

    backbone = _fit_backbone(backbone, report.arch, report, prefix=BACKBONE_PREFIX)
    converted = {BACKBONE_PREFIX + k: v for k, v in backbone.items()}
    converted.update((key, state_dict[key]) for key in others)
    if target is None:
        report.unchecked = list(others)
    else:
        converted = _check_against_target(converted, target, report)
    return {'state_dict': converted, 'meta': meta}, report


def is_published_dense(checkpoint: dict) -> bool:
    """Whether ``checkpoint`` was written by mmcv 1.x (mmdet 2.x / mmseg 0.x, as the published
    RetinaNet, Mask R-CNN and Semantic FPN files were): its meta names an ``mmdet_version``
    2.x or ``mmseg_version`` 0.x, or keeps the class names as ``CLASSES``."""
    meta = checkpoint.get('meta') if isinstance(checkpoint.get('meta'), dict) else {}
    version = str(meta.get('mmdet_version') or meta.get('mmseg_version') or '')
    return isinstance(checkpoint.get('state_dict'), dict) and (
        'CLASSES' in meta or version.startswith(('2.', '0.')))


def to_current_layout(checkpoint: dict, source: str = 'checkpoint'
                      ) -> Tuple[dict, Optional[ConversionReport]]:
    """``checkpoint`` as mmdet 3.x / mmseg 1.x load it: a published dense file converted in
    memory (as :func:`convert_checkpoint` without a target), anything else as it is.

    Returns:
        ``(checkpoint, report)``; ``report`` is None when nothing was converted.
    """
    if not is_published_dense(checkpoint):
        return checkpoint, None
    return convert_checkpoint(checkpoint, source)
