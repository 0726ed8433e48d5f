"""Checkpoints named by URL: downloaded once into torch's hub cache, then read as local files.

The cache is ``$TORCH_HOME/hub/checkpoints/FILENAME``, where mmengine and
:func:`torch.hub.load_state_dict_from_url` keep theirs. A download goes to a temporary file
beside it, is checked against the size the server announced, and only then renamed to its
name: an interrupted or truncated download is never taken for the file.
"""
import http.client
import os
import os.path as osp
import shutil
import sys
import urllib.error
import urllib.request
from typing import Optional
from urllib.parse import urlparse

import torch

from .hub import with_endpoint

URL_SCHEMES = ('http://', 'https://')
# Seconds a connection may stay silent before the download is abandoned: without network a
# connection attempt would otherwise wait for the system's TCP timeout.
DOWNLOAD_TIMEOUT = 60
CHUNK_BYTES = 1 << 20


def is_url(path: str) -> bool:
    return path.startswith(URL_SCHEMES)


def cache_path(url: str, model_dir: Optional[str] = None) -> str:
    """Where :func:`cached_download` keeps ``url``: ``MODEL_DIR/FILENAME``, by default in
    ``$TORCH_HOME/hub/checkpoints``."""
    model_dir = model_dir or osp.join(torch.hub.get_dir(), 'checkpoints')
    return osp.join(model_dir, osp.basename(urlparse(url).path))


def _failure(url: str, source: str, cached: str, reason: str) -> ConnectionError:
    via = f' (from {source}, HF_ENDPOINT)' if source != url else ''
    return ConnectionError(
        f'Could not download {url}{via}: {reason}. Without network, download the file '
        f'elsewhere and put it at {cached}, where it is looked for first; or give a local '
        'file instead of the URL (a config\'s backbone: --cfg-options '
        'model.backbone.init_cfg.checkpoint=PATH)')


def _fetch(url: str, source: str, cached: str, partial: str) -> Optional[int]:
    """Write what ``source`` serves to ``partial``; returns the size the server announced."""
    try:
        with urllib.request.urlopen(source, timeout=DOWNLOAD_TIMEOUT) as response, \
                open(partial, 'wb') as f:
            announced = response.headers.get('Content-Length')
            shutil.copyfileobj(response, f, CHUNK_BYTES)
    except urllib.error.HTTPError as error:
        raise _failure(url, source, cached, f'the server answered HTTP {error.code} '
                       f'{error.reason}') from None
    except (OSError, http.client.HTTPException) as error:
        reason = getattr(error, 'reason', None) or error
        raise _failure(url, source, cached, f'{type(error).__name__}: {reason}') from None
    return None if announced is None else int(announced)


def cached_download(url: str, model_dir: Optional[str] = None) -> str:
    """The local copy of ``url`` (see :func:`cache_path`), downloaded if it is not there yet;
    ``https://huggingface.co`` is replaced by ``$HF_ENDPOINT`` when that is set.

    Raises:
        ConnectionError: no network, the server answered with an error (404 ...), or the
            download ended early. The message names the URL and the cache path.
    """
    cached = cache_path(url, model_dir)
    if osp.isfile(cached):
        return cached
    os.makedirs(osp.dirname(cached), exist_ok=True)
    source = with_endpoint(url)
    partial = f'{cached}.partial-{os.getpid()}'
    sys.stderr.write(f'Downloading {source} to {cached}\n')  # as torch.hub announces its own
    try:
        announced = _fetch(url, source, cached, partial)
        received = osp.getsize(partial)
        if announced is not None and received != announced:
            raise _failure(url, source, cached,
                           f'the download ended after {received} of {announced} bytes')
        os.replace(partial, cached)
    finally:
        if osp.exists(partial):
            os.remove(partial)
    return cached
