"""Warnings of the OpenMMLab stack that a user of lsnet_dense cannot act on, silenced narrowly.

Each entry names the message and the module the warning is attributed to, so the same message
from anywhere else, and every other warning (ours included), still shows. One list serves the
tools (each calls :func:`silence_third_party_warnings` when it starts; importing ``lsnet_dense``
installs no filter) and the test run (``tests/conftest.py`` hands the same entries to pytest).
"""
import warnings

# (message regex, category, module regex)
THIRD_PARTY_WARNINGS = (
    # mmengine looks up installed packages with setuptools' pkg_resources (deprecated), once per
    # config that names a `mmdet::` / `mmseg::` base, and reloads it (attributed to importlib).
    (r'pkg_resources is deprecated as an API', UserWarning,
     r'(mmengine\.utils\.package_utils|importlib)$'),
    # mmengine's AmpOptimWrapper (--amp) builds torch's deprecated torch.cuda.amp.GradScaler.
    (r'`torch\.cuda\.amp\.GradScaler\(args\.\.\.\)` is deprecated', FutureWarning,
     r'mmengine\.optim\.optimizer\.amp_optimizer_wrapper$'),
    # mmseg's own heads still call its deprecated build_loss.
    (r'``build_loss`` would be deprecated soon', UserWarning, r'mmseg\.models\.builder$'),
    # The published recipes keep CrossEntropyLoss's default averaging and ADE20K's
    # reduce_zero_label in LoadAnnotations, as mmseg's own ADE20K configs do.
    (r'Default ``avg_non_ignore`` is False', UserWarning,
     r'mmseg\.models\.losses\.cross_entropy_loss$'),
    (r'`reduce_zero_label` will be deprecated', UserWarning,
     r'mmseg\.datasets\.transforms\.loading$'),
)


def silence_third_party_warnings():
    """Install an ``ignore`` filter for each entry of :data:`THIRD_PARTY_WARNINGS`."""
    for message, category, module in THIRD_PARTY_WARNINGS:
        warnings.filterwarnings('ignore', message=message, category=category, module=module)


def filterwarnings_lines():
    """The same entries as pytest ``filterwarnings`` lines (pytest resets filters per test)."""
    return [f'ignore:{message}:{category.__name__}:{module}'
            for message, category, module in THIRD_PARTY_WARNINGS]
