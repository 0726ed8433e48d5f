"""Checkpoints named by URL: downloaded once into torch's hub cache, then read as local files."""
import os
import os.path as osp
from typing import Optional
from urllib.parse import urlparse

import torch

URL_SCHEMES = ('http://', 'https://')


def is_url(path: str) -> bool:
    return path.startswith(URL_SCHEMES)


def cached_download(url: str, model_dir: Optional[str] = None, progress: bool = False) -> str:
    """The local copy of ``url``: ``MODEL_DIR/FILENAME``, by default in
    ``$TORCH_HOME/hub/checkpoints`` as :func:`torch.hub.load_state_dict_from_url` keeps it,
    downloaded if it is not there yet.

    Raises:
        ConnectionError: the download failed (no network, the server refused, not found).
    """
    model_dir = model_dir or osp.join(torch.hub.get_dir(), 'checkpoints')
    cached = osp.join(model_dir, osp.basename(urlparse(url).path))
    if not osp.isfile(cached):
        os.makedirs(model_dir, exist_ok=True)
        try:
            torch.hub.download_url_to_file(url, cached, progress=progress)
        except OSError as error:  # URLError, HTTPError and socket errors are all OSErrors
            raise ConnectionError(f'Could not download the checkpoint {url}: {error}') from None
    return cached
