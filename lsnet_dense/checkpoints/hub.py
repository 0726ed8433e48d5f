"""Where the published LSNet files live: the Hugging Face Hub repository ``jameslahm/lsnet``.

Files are named by their download URL, ``https://huggingface.co/jameslahm/lsnet/resolve/main/
FILE``, as mmdet / mmseg configs name their weights. ``HF_ENDPOINT``, the Hugging Face
convention for mirrors, replaces ``https://huggingface.co`` when it is set.
"""
import os

HF_HUB = 'https://huggingface.co'
HUB_REPO = 'jameslahm/lsnet'
# The published dense checkpoints, by model family (mmdet 2.x / mmseg 0.x, mmcv 1.x layout).
DENSE_FILES = {'retinanet': 'lsnet_{arch}_retinanet.pth',
               'mask_rcnn': 'lsnet_{arch}_maskrcnn.pth',
               'semfpn': 'lsnet_{arch}_semfpn.pth'}


def hub_url(filename: str) -> str:
    """The download URL of a file of the published release, e.g. ``hub_url('lsnet_t.pth')``."""
    return f'{HF_HUB}/{HUB_REPO}/resolve/main/{filename}'


def imagenet_filename(arch: str, distill: bool = False) -> str:
    """``lsnet_t.pth``, or ``lsnet_t_distill.pth`` for the distilled ImageNet classifier."""
    return f'lsnet_{arch}{"_distill" if distill else ""}.pth'


def dense_filename(family: str, arch: str) -> str:
    """The published checkpoint of ``family`` (``retinanet``, ``mask_rcnn``, ``semfpn``)."""
    return DENSE_FILES[family].format(arch=arch)


def with_endpoint(url: str) -> str:
    """``url`` with ``https://huggingface.co`` replaced by ``$HF_ENDPOINT`` when that is set."""
    endpoint = os.environ.get('HF_ENDPOINT', '').rstrip('/')
    if endpoint and url.startswith(HF_HUB + '/'):
        return endpoint + url[len(HF_HUB):]
    return url
