"""A local stand-in for the Hugging Face Hub's file downloads, for tests without network.

:func:`served_hub` answers ``HEAD`` and ``GET`` on ``/{repo}/resolve/{revision}/{filename}``, the
URLs :func:`huggingface_hub.hf_hub_download` requests under ``$HF_ENDPOINT`` and that
:func:`lsnet_dense.checkpoints.hub.hub_url` names, the way the Hub answers them for a file of a
repository at a commit:

* ``200`` with ``Content-Length`` (the size, which huggingface_hub checks the download against),
  ``ETag`` (the file's SHA-256, quoted, which is what the Hub's ETag of an LFS file amounts to:
  huggingface_hub names the cached blob by it and refuses a file without one) and
  ``X-Repo-Commit`` (a 40-hex commit of the served files: huggingface_hub refuses a response
  without it and names the snapshot folder by it); ``GET`` sends the whole file (``Range`` is
  ignored, which huggingface_hub handles), so a plain ``urllib`` download works as well;
* ``404`` with ``X-Error-Code``, the header huggingface_hub turns into its errors:
  ``EntryNotFound`` (``RemoteEntryNotFoundError``, an ``EntryNotFoundError``; with
  ``X-Repo-Commit`` as on the Hub) for a file the repository lacks, ``RevisionNotFound`` for
  another revision, ``RepoNotFound`` for any other path.

It answers directly, without the Hub's redirect of large files to a CDN, and offers no Xet
transfer (no ``X-Xet-Hash``), so clients use the plain HTTP download. The server listens on
127.0.0.1 only, logs nothing, drops a connection that stays silent for 10 s, runs in a daemon
thread and stops with the ``with`` block.
"""
import contextlib
import dataclasses
import hashlib
import http.server
import shutil
import threading
from pathlib import Path
from typing import Dict, Iterator, List, Tuple
from urllib.parse import unquote, urlsplit

REQUEST_TIMEOUT = 10  # seconds a connection may stay silent


@dataclasses.dataclass(frozen=True)
class ServedFile:
    """A local file as the server announces it: its size and SHA-256 (the ETag)."""
    path: Path
    size: int
    sha256: str


@dataclasses.dataclass(frozen=True)
class ServedHub:
    """What :func:`served_hub` yields: ``endpoint`` (the value for ``HF_ENDPOINT``), ``commit``
    (what ``X-Repo-Commit`` says) and ``requests``, the ``(method, path)`` of every request
    received so far, in order (a list the server appends to)."""
    endpoint: str
    commit: str
    requests: List[Tuple[str, str]]


def _describe(path) -> ServedFile:
    """Size and SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return ServedFile(Path(path), Path(path).stat().st_size, digest.hexdigest())


def _commit_of(files: Dict[str, ServedFile]) -> str:
    """A commit hash (40 hex digits) that changes with the names and contents served."""
    listing = ''.join(f'{name}\0{file.sha256}\0' for name, file in sorted(files.items()))
    return hashlib.sha1(listing.encode()).hexdigest()


def _handler(files: Dict[str, ServedFile], repo: str, revision: str, commit: str,
             requests: List[Tuple[str, str]]) -> type:
    """The request handler class answering for ``files`` of ``repo`` at ``revision``, which
    records each request in ``requests``."""
    prefix = f'/{repo}/resolve/{revision}/'

    class HubHandler(http.server.BaseHTTPRequestHandler):
        timeout = REQUEST_TIMEOUT

        def do_HEAD(self):
            self._answer(send_body=False)

        def do_GET(self):
            self._answer(send_body=True)

        def _answer(self, send_body: bool):
            path = unquote(urlsplit(self.path).path)
            requests.append((self.command, path))
            served = files.get(path[len(prefix):]) if path.startswith(prefix) else None
            if served is None:
                self._not_found(path, send_body)
                return
            self.send_response(200)
            self.send_header('Content-Type', 'application/octet-stream')
            self.send_header('Content-Length', str(served.size))
            self.send_header('ETag', f'"{served.sha256}"')
            self.send_header('X-Repo-Commit', commit)
            self.end_headers()
            if send_body:
                with open(served.path, 'rb') as f:
                    shutil.copyfileobj(f, self.wfile)

        def _not_found(self, path: str, send_body: bool):
            if path.startswith(prefix):
                code, message = 'EntryNotFound', 'Entry not found'
            elif path.startswith(f'/{repo}/resolve/'):
                code, message = 'RevisionNotFound', 'Revision not found'
            else:
                code, message = 'RepoNotFound', 'Repository not found'
            body = message.encode()
            self.send_response(404)
            self.send_header('Content-Type', 'text/plain; charset=utf-8')
            self.send_header('Content-Length', str(len(body)))
            self.send_header('X-Error-Code', code)
            self.send_header('X-Error-Message', message)
            if code == 'EntryNotFound':
                self.send_header('X-Repo-Commit', commit)
            self.end_headers()
            if send_body:
                self.wfile.write(body)

        def log_message(self, *args):  # keep the test output to the test's own
            pass

    return HubHandler


class _QuietServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server that prints nothing when a client hangs up mid-answer: the
    client reports its own failed download."""

    def handle_error(self, request, client_address):
        pass


@contextlib.contextmanager
def served_hub(files: Dict[str, str], repo: str, revision: str = 'main') -> Iterator[ServedHub]:
    """Serve ``files`` (filename in the repository -> local path) as ``repo`` at ``revision``
    on 127.0.0.1 (a free port) while in the block; yields a :class:`ServedHub`.

    Point huggingface_hub at it with ``HF_ENDPOINT=hub.endpoint`` in the environment of a
    fresh process (huggingface_hub reads it when imported).
    """
    described = {name: _describe(path) for name, path in files.items()}
    commit, requests = _commit_of(described), []
    server = _QuietServer(('127.0.0.1', 0), _handler(described, repo, revision, commit, requests))
    thread = threading.Thread(target=server.serve_forever, kwargs=dict(poll_interval=0.1),
                              daemon=True)
    thread.start()
    try:
        yield ServedHub(f'http://127.0.0.1:{server.server_address[1]}', commit, requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=REQUEST_TIMEOUT)
