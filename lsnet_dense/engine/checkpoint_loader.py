"""mmengine's checkpoint loading (the runner's ``load_from``, ``--resume`` and test checkpoint,
``init_cfg=dict(type='Pretrained')``, the inferencers) through
:func:`lsnet_dense.checkpoints.load_checkpoint_file`, with the published mmdet 2.x / mmseg 0.x
files converted in memory (:func:`.strict_loading.read_model_checkpoint`).

mmengine 0.10.7 reads local files with torch's default ``weights_only=True`` and no allowlist,
which refuses the checkpoints mmengine itself writes (history buffers, numpy scalars), and URLs
with ``weights_only=False``, which runs whatever a downloaded pickle holds. The tools call
:func:`use_safe_checkpoint_loading` as they start; importing lsnet_dense changes nothing.
"""
import torch
from mmengine.dist import get_dist_info
from mmengine.runner import CheckpointLoader
from mmengine.runner.checkpoint import (_get_mmengine_home, _process_mmcls_checkpoint,
                                        get_deprecated_model_names, get_external_models,
                                        get_mmcls_models, get_torchvision_models)

from lsnet_dense.checkpoints import load_checkpoint_file
from lsnet_dense.checkpoints.download import URL_SCHEMES, cached_download, is_url
from .strict_loading import read_model_checkpoint

MODEL_NAME_SCHEMES = ('torchvision://', 'modelzoo://', 'open-mmlab://', 'openmmlab://',
                      'mmcls://')


def load_from_local(filename: str, map_location=None) -> dict:
    return read_model_checkpoint(filename, map_location)


def load_from_http(url: str, map_location=None) -> dict:
    """Rank 0 downloads before the other ranks read its copy (or, on other machines, download
    their own), as mmengine's own loader does."""
    rank, world_size = get_dist_info()
    if rank == 0:
        cached_download(url)
    if world_size > 1:
        torch.distributed.barrier()
    return read_model_checkpoint(cached_download(url), map_location)


def load_from_model_name(filename: str, map_location=None) -> dict:
    """``torchvision://NAME``, ``open-mmlab://NAME`` and ``mmcls://NAME``, resolved with
    mmengine's own tables of model URLs."""
    scheme, name = filename.split('://', 1)
    if scheme in ('torchvision', 'modelzoo'):
        return load_from_http(get_torchvision_models()[name], map_location)
    if scheme == 'mmcls':
        return _process_mmcls_checkpoint(
            load_from_http(get_mmcls_models()[name], map_location))
    name = get_deprecated_model_names().get(name, name)
    location = get_external_models()[name]
    if is_url(location):
        return load_from_http(location, map_location)
    return load_checkpoint_file(f'{_get_mmengine_home()}/{location}', map_location)


def use_safe_checkpoint_loading():
    """Make mmengine read local files, URLs and model names with the allowlist of
    :mod:`lsnet_dense.checkpoints.allowlist`, for the rest of this process."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
    CheckpointLoader.register_scheme(prefixes=URL_SCHEMES, loader=load_from_http, force=True)
    CheckpointLoader.register_scheme(prefixes=MODEL_NAME_SCHEMES, loader=load_from_model_name,
                                     force=True)
