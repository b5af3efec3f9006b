"""A Hugging Face hub on 127.0.0.1 for download tests, serving model folders in the hub's layout.

It answers the endpoints huggingface_hub 2.x uses to download: `GET /api/models/{repo}/revision/{rev}` (the listing,
with file sizes when `?blobs=True`), and `HEAD`/`GET /{repo}/resolve/{rev}/{file}` with `ETag` (sha256 for weights,
as Git LFS does; git's blob sha1 for the other files), `X-Repo-Commit`, `Content-Length` and `Range` requests. Errors
carry the hub's `X-Error-Code` header (RepoNotFound, RevisionNotFound, GatedRepo, EntryNotFound). Faults on purpose:
`cut(file, after_bytes, times)` breaks the connection in the middle of the next `times` transfers of that file;
`pace(file, seconds)` sends that file in 256 kB pieces with a pause after each (a slow network); `corrupt(file)`
flips a byte of what is sent; a repository made with `ranges=False` ignores Range requests, as some proxies do.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

_INFO = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/revision/(?P<rev>[^/]+)$")
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")


@dataclass
class Repo:
    """A repository: files by path, one commit, optionally gated (then only `token` may download)."""

    files: dict[str, bytes]
    commit: str
    gated_token: str | None = None
    ranges: bool = True
    declared_sizes: dict[str, int] = field(default_factory=dict)
    """Sizes to announce instead of the real ones (to provoke a disk-full refusal)."""

    def size(self, path: str) -> int:
        return self.declared_sizes.get(path, len(self.files[path]))

    def etag(self, path: str) -> str:
        data = self.files[path]
        if path.endswith((".safetensors", ".bin")):
            return hashlib.sha256(data).hexdigest()
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    range: str | None
    authorization: str | None


class HubServer:
    """Start with `with HubServer() as hub:`; `hub.url` is the endpoint (set HF_ENDPOINT to it)."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.requests: list[Request] = []
        self._cuts: dict[str, list[int]] = {}
        self._pace: dict[str, float] = {}
        self._corrupt: set[str] = set()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def add_folder(self, repo_id: str, folder: Path, *, extra: dict[str, bytes] | None = None, **options) -> Repo:
        """Serve every file of `folder` (plus `extra` files) as repository `repo_id`."""
        files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
        files.update(extra or {})
        commit = hashlib.sha1(repo_id.encode()).hexdigest()
        repo = self.repos[repo_id] = Repo(files=files, commit=commit, **options)
        return repo

    def cut(self, path: str, after_bytes: int, times: int = 1) -> None:
        """Break the connection after `after_bytes` of body in the next `times` GETs of files named `path`."""
        self._cuts[path] = [after_bytes] * times

    def pace(self, path: str, seconds: float) -> None:
        """Send files named `path` in 256 kB pieces, pausing `seconds` after each."""
        self._pace[path] = seconds

    def corrupt(self, path: str) -> None:
        """Send files named `path` with one byte changed (their etag stays that of the true content)."""
        self._corrupt.add(path)

    def gets(self, path: str) -> list[Request]:
        """The GET requests for one file (by its name in the repository)."""
        return [r for r in self.requests if r.method == "GET" and r.path.endswith("/" + path)]

    def __enter__(self) -> "HubServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _take_cut(self, path: str) -> int | None:
        with self._lock:
            pending = self._cuts.get(path)
            return pending.pop(0) if pending else None


def _handler(hub: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args) -> None:  # quiet
            pass

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

        def _serve(self, *, body: bool) -> None:
            path = urlsplit(self.path).path
            hub.requests.append(Request(self.command, path, self.headers.get("Range"), self.headers.get("Authorization")))
            if match := _INFO.match(path):
                return self._info(unquote(match["repo"]), unquote(match["rev"]), "blobs=true" in self.path.lower())
            if match := _RESOLVE.match(path):
                return self._resolve(unquote(match["repo"]), unquote(match["rev"]), unquote(match["file"]), body)
            self._error(404, "NotFound", "no such endpoint")

        def _repo(self, repo_id: str, revision: str) -> Repo | None:
            repo = hub.repos.get(repo_id)
            if repo is None:
                self._error(404, "RepoNotFound", "Repository not found")
            elif revision not in ("main", repo.commit):
                self._error(404, "RevisionNotFound", "Invalid rev id")
            else:
                return repo
            return None

        def _info(self, repo_id: str, revision: str, blobs: bool) -> None:
            repo = self._repo(repo_id, revision)
            if repo is None:
                return
            siblings = []
            for name in repo.files:
                sibling: dict = {"rfilename": name}
                if blobs:
                    sibling.update(size=repo.size(name), blobId=hashlib.sha1(repo.files[name]).hexdigest())
                    if len(repo.etag(name)) == 64:
                        sibling["lfs"] = {"sha256": repo.etag(name), "size": repo.size(name), "pointerSize": 134}
                siblings.append(sibling)
            data = {"id": repo_id, "sha": repo.commit, "private": False, "gated": "manual" if repo.gated_token else False,
                    "siblings": siblings}
            self._send(200, json.dumps(data).encode(), {"Content-Type": "application/json"})

        def _resolve(self, repo_id: str, revision: str, name: str, body: bool) -> None:
            repo = self._repo(repo_id, revision)
            if repo is None:
                return
            if repo.gated_token and self.headers.get("Authorization") != f"Bearer {repo.gated_token}":
                status = 403 if self.headers.get("Authorization") else 401
                return self._error(status, "GatedRepo", f"Access to model {repo_id} is restricted.")
            if name not in repo.files:
                return self._error(404, "EntryNotFound", "Entry not found")
            data, size = repo.files[name], repo.size(name)
            headers = {"ETag": f'"{repo.etag(name)}"', "X-Repo-Commit": repo.commit, "Accept-Ranges": "bytes"}
            if not body:
                self._send(200, b"", {**headers, "Content-Length": str(size)})
                return
            start, status = 0, 200
            if name in hub._corrupt:
                data = bytes([data[0] ^ 1]) + data[1:]
            if repo.ranges and (match := re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")):
                start, status = int(match[1]), 206
                headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            payload = data[start:]
            cut = hub._take_cut(name)
            self.send_response(status)
            for key, value in {**headers, "Content-Length": str(len(payload))}.items():
                self.send_header(key, value)
            self.end_headers()
            piece = 256 * 1024
            for offset in range(0, len(payload) if cut is None else cut, piece):
                self.wfile.write(payload[offset : offset + piece if cut is None else min(offset + piece, cut)])
                self.wfile.flush()
                time.sleep(hub._pace.get(name, 0.0))
            if cut is not None:
                self.close_connection = True

        def _error(self, status: int, code: str, message: str) -> None:
            body = json.dumps({"error": message}).encode()
            self._send(status, body, {"X-Error-Code": code, "X-Error-Message": message, "Content-Type": "application/json"})

        def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            headers.setdefault("Content-Length", str(len(payload)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

    return Handler
