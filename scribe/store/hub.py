"""Downloads from the Hugging Face Hub into the standard Hugging Face cache: only what a model needs, resumable,
cancellable, with progress (bytes, speed, ETA) for the CLI and the TUI.

`pull("gpt2")` or `pull("org/name@revision")` lists the repository at that revision (huggingface_hub's `model_info`),
picks the files a model needs (config, generation config, tokenizer files, safetensors weights; pickle `.bin` weights
only when the caller allows them and the repository has no safetensors) or, with `include` patterns, only the files
that match one (`pull("org/name-GGUF", include=["*Q4_K_M.gguf"])`: one quantisation of a GGUF repository), and
fetches each into the cache layout every Hugging Face tool reads (`models--org--name/blobs`, `snapshots/<commit>`, `refs/<revision>`).

Each file is streamed into `blobs/<etag>.incomplete`, a stable name, so an interrupted or cancelled pull resumes where
it stopped (an HTTP Range request) when run again; a finished file is checked against its etag (sha256 or git sha1)
before it becomes a blob, and huggingface_hub's `hf_hub_download` then links it into the snapshot. `refs/<revision>` is
written last, so a half-downloaded model is never found by name. HF_ENDPOINT, HF_HOME / HF_HUB_CACHE, HF_HUB_OFFLINE
and HF_TOKEN are read at call time. Repository names, revisions, file names and etags are validated so nothing is
written outside the cache folder.
"""

from __future__ import annotations

import errno
import fnmatch
import hashlib
import os
import re
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from scribe.config import hf_cache_dir
from scribe.durations import format_duration
from scribe.files import atomic_write
from scribe.types import EngineError
from scribe.store.known import known_model

DEFAULT_ENDPOINT = "https://huggingface.co"
DEFAULT_REVISION = "main"

CONFIG_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "vocab.txt",
    "tokenizer.model",
    "spiece.model",
    "chat_template.jinja",
)
"""Small files fetched when the repository has them: the model's configuration and its tokenizer."""

SAFETENSORS_INDEX = "model.safetensors.index.json"
PICKLE_INDEX = "pytorch_model.bin.index.json"

_NAME_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?"
_REPO_ID = re.compile(rf"(?:{_NAME_PART}/)?{_NAME_PART}")
_REF_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_ETAG = re.compile(r"[A-Za-z0-9_-]{8,128}")
_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,199}")
_CHUNK = 1 << 20
_PROGRESS_INTERVAL_S = 0.1


class DownloadError(EngineError):
    """A download failed; the message says why and what to do."""

    title: ClassVar[str] = "download failed"
    """What went wrong in two or three words (the TUI puts it before the message)."""


class RepoNotFound(DownloadError):
    """No such repository or revision on the hub (or it is private and no token with access was given)."""

    title = "unknown repository"


class AccessDenied(DownloadError):
    """The repository is gated or private and HF_TOKEN does not grant access."""

    title = "access denied"


class HubUnreachable(DownloadError):
    """No network, the hub does not answer, or HF_HUB_OFFLINE is set."""

    title = "hub unreachable"


class DiskFull(DownloadError):
    """Not enough free space in the cache folder; what was downloaded so far is kept for a later resume."""

    title = "disk full"


class TransferInterrupted(DownloadError):
    """The connection broke during a transfer; what arrived is kept and the next pull resumes from there."""

    title = "download interrupted"


class DownloadCancelled(DownloadError):
    """The download was cancelled; what arrived is kept and the next pull resumes from there."""

    title = "download cancelled"


@dataclass(frozen=True)
class RepoSpec:
    """A validated repository id and revision."""

    repo_id: str
    revision: str = DEFAULT_REVISION

    def __str__(self) -> str:
        return self.repo_id if self.revision == DEFAULT_REVISION else f"{self.repo_id}@{self.revision}"


def parse_spec(text: str) -> RepoSpec:
    """Parse `REPO[@REVISION]` (or a short name such as "gpt2"), refusing names that could leave the cache folder."""
    repo_id, _, revision = text.strip().partition("@")
    known = known_model(repo_id)
    if known is not None:
        repo_id = known.repo_id
    if not _REPO_ID.fullmatch(repo_id) or ".." in repo_id or "--" in repo_id or repo_id.endswith(".git"):
        raise DownloadError(
            f"{text!r} is not a repository name: use ORG/NAME (letters, digits, '.', '_', '-'), e.g. openai-community/gpt2"
        )
    revision = revision or DEFAULT_REVISION
    parts = revision.split("/")
    if not all(_REF_PART.fullmatch(p) and ".." not in p and not p.endswith(".lock") for p in parts):
        raise DownloadError(f"{revision!r} is not a revision: use a branch, a tag or a commit hash")
    return RepoSpec(repo_id, revision)


def repo_folder(cache: Path, repo_id: str) -> Path:
    """The cache folder of a model repository (`models--org--name`)."""
    return cache / ("models--" + repo_id.replace("/", "--"))


@dataclass(frozen=True)
class DownloadProgress:
    """Where a download stands; sent to the progress callback at most ten times a second and at each file's end."""

    repo_id: str
    filename: str
    """The file being fetched now."""
    done_bytes: int
    """Bytes on disk so far, including what earlier, interrupted pulls left."""
    total_bytes: int
    files_done: int
    files_total: int
    bytes_per_s: float
    """Transfer speed over the last few seconds."""
    eta_s: float | None
    """Seconds left at the current speed; None while the speed is unknown."""

    @property
    def fraction(self) -> float:
        """Share of the bytes that are done, from 0 to 1."""
        return self.done_bytes / self.total_bytes if self.total_bytes else 1.0

    def describe(self) -> str:
        """One line for people: bytes done of the total, speed, ETA and the file being fetched."""
        eta = "-" if self.eta_s is None else format_duration(self.eta_s)
        return (
            f"{format_bytes(self.done_bytes)} / {format_bytes(self.total_bytes)}  {format_bytes(self.bytes_per_s)}/s  "
            f"ETA {eta}  {self.filename} ({self.files_done}/{self.files_total})"
        )


ProgressCallback = Callable[[DownloadProgress], None]


@dataclass(frozen=True)
class PulledModel:
    """A finished download."""

    spec: RepoSpec
    commit: str
    path: Path
    """The snapshot folder: what the transformers backend loads."""
    files: tuple[str, ...]
    total_bytes: int
    transferred_bytes: int
    """Bytes that came over the network in this pull (less than total_bytes when files were cached or resumed)."""


def hub_endpoint() -> str:
    """The hub's base URL: HF_ENDPOINT, read at call time."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def offline() -> bool:
    """True when HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) turns downloads off."""
    values = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return any(v.strip().upper() in ("1", "ON", "YES", "TRUE") for v in values)


def select_files(sizes: dict[str, int | None], *, allow_pickle: bool, shards: Iterable[str] = ()) -> list[str]:
    """The files a model needs, from a repository listing (name -> size).

    Safetensors weights win over pickle `.bin` weights; `.bin` weights are taken only with `allow_pickle` and only when
    there are no safetensors. `shards` are the weight files named by the weights index, when there is one.
    """
    if "config.json" not in sizes:
        raise DownloadError("the repository has no config.json: it is not a transformers model scribe can load")
    files = [name for name in CONFIG_FILES if name in sizes]
    shards = [s for s in shards if s in sizes and _FILE_NAME.fullmatch(s)]
    if SAFETENSORS_INDEX in sizes:
        return files + [SAFETENSORS_INDEX, *sorted(set(shards))]
    if "model.safetensors" in sizes:
        return files + ["model.safetensors"]
    has_pickle = PICKLE_INDEX in sizes or "pytorch_model.bin" in sizes
    if has_pickle and not allow_pickle:
        raise DownloadError(
            "the repository has only pickle weights (pytorch_model.bin), which can run code when loaded; "
            "allow them explicitly (--allow-pickle) if you trust its authors"
        )
    if PICKLE_INDEX in sizes:
        return files + [PICKLE_INDEX, *sorted(set(shards))]
    if "pytorch_model.bin" in sizes:
        return files + ["pytorch_model.bin"]
    raise DownloadError("the repository has no model weights (model.safetensors or pytorch_model.bin)")


def matching_files(sizes: dict[str, int | None], include: Sequence[str], spec: RepoSpec) -> list[str]:
    """The repository's files whose names match one of the `include` patterns (shell-style: *, ?, [...]), sorted."""
    files = sorted(name for name in sizes if any(fnmatch.fnmatchcase(name, pattern) for pattern in include))
    if not files:
        listed = ", ".join(sorted(sizes)[:8]) + (", ..." if len(sizes) > 8 else "")
        raise DownloadError(f"no file of {spec} matches {' or '.join(repr(p) for p in include)} (it has: "
                            f"{listed or 'no files'})")
    return files


def pull(
    name: str,
    *,
    include: Sequence[str] = (),
    allow_pickle: bool = False,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    retries: int = 2,
) -> PulledModel:
    """Download a model into the Hugging Face cache (resuming what an earlier pull left) and return its snapshot.

    `include`: shell-style patterns; when given, only the files they match are fetched (one GGUF quantisation).
    `retries` is how many times a broken connection is resumed at once, provided the attempt brought new bytes.
    Raises a DownloadError subclass with a message for the writer.
    """
    spec = parse_spec(name)
    if offline():
        raise HubUnreachable(f"cannot download {spec}: HF_HUB_OFFLINE is set (unset it to allow downloads)")
    endpoint = hub_endpoint()
    try:
        return _Pull(spec, endpoint, allow_pickle, progress, cancel, retries, include).run()
    except DownloadError:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure becomes one message for the writer
        raise _explain(exc, spec, endpoint) from exc


def remove(repo_id: str) -> int:
    """Delete a repository (every revision) from the Hugging Face cache; return the bytes freed."""
    spec = parse_spec(repo_id)
    cache = hf_cache_dir()
    folder = repo_folder(cache, spec.repo_id)
    if not folder.is_dir():
        raise RepoNotFound(f"{spec.repo_id} is not in the Hugging Face cache ({cache})")
    freed = folder_size(folder)
    shutil.rmtree(folder)
    shutil.rmtree(cache / ".locks" / folder.name, ignore_errors=True)
    return freed


def folder_size(folder: Path) -> int:
    """Bytes of the regular files under a folder (links not followed, so each blob counts once)."""
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


class _Pull:
    """One download: the listing, then each file, then the ref."""

    def __init__(
        self,
        spec: RepoSpec,
        endpoint: str,
        allow_pickle: bool,
        progress: ProgressCallback | None,
        cancel: threading.Event | None,
        retries: int,
        include: Sequence[str] = (),
    ) -> None:
        self.spec, self.endpoint, self.allow_pickle = spec, endpoint, allow_pickle
        self.include = tuple(include)
        self.cancel = cancel or threading.Event()
        self.retries = retries
        self.cache = hf_cache_dir()
        self.storage = repo_folder(self.cache, spec.repo_id)
        self.tracker = _Tracker(spec.repo_id, progress)

    def run(self) -> PulledModel:
        from huggingface_hub import HfApi

        info = HfApi(endpoint=self.endpoint).model_info(self.spec.repo_id, revision=self.spec.revision, files_metadata=True)
        commit = info.sha or ""
        if not _COMMIT.fullmatch(commit):
            raise DownloadError(f"the hub gave no valid commit for {self.spec}")
        self.commit = commit
        self.snapshot = self.storage / "snapshots" / commit
        sizes = {s.rfilename: s.size for s in info.siblings or () if "/" not in s.rfilename}
        if self.include:
            files = matching_files(sizes, self.include, self.spec)
        else:
            shards: list[str] = []
            for index in (SAFETENSORS_INDEX, PICKLE_INDEX):
                if index in sizes and (index == SAFETENSORS_INDEX or self.allow_pickle):
                    shards = _shard_names(self._fetch(index, report=False))
                    break
            files = select_files(sizes, allow_pickle=self.allow_pickle, shards=shards)
        missing = [f for f in files if sizes.get(f) is None]
        if missing:
            raise DownloadError(f"the hub listing of {self.spec} gives no size for {', '.join(missing)}")
        file_sizes = {f: int(sizes[f] or 0) for f in files}
        self.tracker.start(total=sum(file_sizes.values()), files=len(files))
        self._check_space(file_sizes)
        for filename in files:
            self._fetch(filename, report=True)
        if self.spec.revision != commit:
            _write_ref(self.storage, self.spec.revision, commit)
        return PulledModel(self.spec, commit, self.snapshot, tuple(files), self.tracker.total, self.tracker.transferred)

    def _check_space(self, sizes: dict[str, int]) -> None:
        """Refuse to start when the files still to fetch do not fit on the disk."""
        needed = sum(size for name, size in sizes.items() if not (self.snapshot / name).exists())
        partials = sum(p.stat().st_size for p in (self.storage / "blobs").glob("*.incomplete")) if self.storage.is_dir() else 0
        needed = max(needed - partials, 0)
        probe = next(p for p in (self.cache, *self.cache.parents) if p.exists())
        free = shutil.disk_usage(probe).free
        if needed > free:
            raise DiskFull(
                f"not enough disk space for {self.spec}: {format_bytes(needed)} to download, {format_bytes(free)} free "
                f"in {self.cache} (free some space, or point HF_HOME elsewhere)"
            )

    def _fetch(self, filename: str, *, report: bool) -> Path:
        """Make `filename` part of the snapshot (downloading what is missing) and return its snapshot path."""
        from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
        from huggingface_hub.utils import WeakFileLock

        if not _FILE_NAME.fullmatch(filename):
            raise DownloadError(f"refusing a file name from the hub that is not a plain name: {filename!r}")
        pointer = self.snapshot / filename
        _check_inside(pointer, self.cache)
        if pointer.exists():
            if report:
                self.tracker.file_done(filename, pointer.stat().st_size)
            return pointer
        url = hf_hub_url(self.spec.repo_id, filename, revision=self.commit, endpoint=self.endpoint)
        meta = get_hf_file_metadata(url, endpoint=self.endpoint)
        etag = meta.etag or ""
        if not _ETAG.fullmatch(etag):
            raise DownloadError(f"the hub gave no usable etag for {filename}")
        if meta.commit_hash and meta.commit_hash != self.commit:
            raise DownloadError(f"{filename}: the hub answered for commit {meta.commit_hash}, not {self.commit}")
        blob = self.storage / "blobs" / etag
        _check_inside(blob, self.cache)
        if not blob.exists():
            blob.parent.mkdir(parents=True, exist_ok=True)
            lock = self.cache / ".locks" / self.storage.name / f"{etag}.lock"
            lock.parent.mkdir(parents=True, exist_ok=True)
            with WeakFileLock(str(lock)):
                if not blob.exists():
                    part = blob.with_name(etag + ".incomplete")
                    self._transfer(meta.location, part, meta.size, filename if report else None)
                    _verify(part, etag, filename)
                    os.replace(part, blob)
        hf_hub_download(
            self.spec.repo_id, filename, revision=self.commit, cache_dir=self.cache, endpoint=self.endpoint
        )
        if report:
            self.tracker.file_done(filename, blob.stat().st_size)
        return pointer

    def _transfer(self, url: str, part: Path, size: int | None, filename: str | None) -> None:
        """Stream `url` into `part`, resuming from its current length, retrying a broken connection that made progress."""
        import httpx2

        attempts = 0
        while True:
            before = part.stat().st_size if part.exists() else 0
            try:
                self._get(url, part, size, filename)
                break
            except httpx2.TransportError as exc:
                after = part.stat().st_size if part.exists() else 0
                if after > before and attempts < self.retries:
                    attempts += 1
                    continue
                got = f"{format_bytes(after)} of {format_bytes(size)}" if size else format_bytes(after)
                raise TransferInterrupted(
                    f"the transfer of {filename or part.name} broke off after {got} ({type(exc).__name__}); "
                    f"run the same pull again to resume"
                ) from exc
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                    raise DiskFull(
                        f"the disk filled up while downloading {filename or part.name} into {self.cache}; "
                        f"free some space and run the same pull again to resume"
                    ) from exc
                raise
        if size is not None and part.stat().st_size != size:
            raise TransferInterrupted(
                f"the transfer of {filename or part.name} ended after {format_bytes(part.stat().st_size)} of "
                f"{format_bytes(size)}; run the same pull again to resume"
            )

    def _get(self, url: str, part: Path, size: int | None, filename: str | None) -> None:
        """One GET from the current end of `part` to the end of the file."""
        from huggingface_hub import constants
        from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

        have = part.stat().st_size if part.exists() else 0
        if size is not None and have > size:
            part.unlink()
            have = 0
        if size is not None and have == size:
            return
        headers = {"Accept-Encoding": "identity"}
        if _same_host(url, self.endpoint):
            headers.update(build_hf_headers())
        if have:
            headers["Range"] = f"bytes={have}-"
        self.tracker.resume(filename, have)
        with get_session().stream("GET", url, headers=headers, timeout=constants.HF_HUB_DOWNLOAD_TIMEOUT) as response:
            if response.status_code >= 400:
                response.read()
                hf_raise_for_status(response)
            if have and response.status_code != 206:
                self.tracker.resume(filename, -have)
                have = 0
            with part.open("r+b" if have else "wb") as out:
                out.seek(have)
                out.truncate()
                for chunk in response.iter_bytes(_CHUNK):
                    if self.cancel.is_set():
                        raise DownloadCancelled(
                            f"download of {self.spec} cancelled; run the same pull again to resume"
                        )
                    out.write(chunk)
                    self.tracker.add(filename, len(chunk))


class _Tracker:
    """Counts bytes and files, works out speed and ETA, and calls the progress callback at a bounded rate."""

    def __init__(self, repo_id: str, callback: ProgressCallback | None) -> None:
        self.repo_id, self.callback = repo_id, callback
        self.total = self.files_total = self.done = self.files_done = self.transferred = 0
        self._counted: dict[str, int] = {}
        self._window: deque[tuple[float, int]] = deque()
        self._last_report = 0.0

    def start(self, *, total: int, files: int) -> None:
        self.total, self.files_total = total, files
        self._window.append((time.monotonic(), 0))

    def resume(self, filename: str | None, nbytes: int) -> None:
        """Bytes an earlier pull left in a partial file (negative when the server ignored the Range request)."""
        if filename is not None:
            self._count(filename, nbytes)

    def add(self, filename: str | None, nbytes: int) -> None:
        """Bytes that just arrived over the network."""
        self.transferred += nbytes
        if filename is None:
            return
        self._count(filename, nbytes)
        now = time.monotonic()
        if now - self._last_report >= _PROGRESS_INTERVAL_S:
            self._report(filename, now)

    def file_done(self, filename: str, size: int) -> None:
        """A file is complete (counting it whole when it was already cached) and reported."""
        self._count(filename, size - self._counted.get(filename, 0))
        self.files_done += 1
        self._report(filename, time.monotonic())

    def _count(self, filename: str, nbytes: int) -> None:
        self._counted[filename] = self._counted.get(filename, 0) + nbytes
        self.done += nbytes

    def _report(self, filename: str, now: float) -> None:
        self._last_report = now
        self._window.append((now, self.transferred))
        while len(self._window) > 2 and now - self._window[1][0] > 3.0:
            self._window.popleft()
        (t0, b0), (t1, b1) = self._window[0], self._window[-1]
        speed = (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0
        left = max(self.total - self.done, 0)
        eta = 0.0 if left == 0 else left / speed if speed > 0 else None
        if self.callback is not None:
            self.callback(
                DownloadProgress(
                    self.repo_id, filename, self.done, self.total, self.files_done, self.files_total, speed, eta
                )
            )


def _shard_names(index_file: Path) -> list[str]:
    """The weight files named by a sharded checkpoint's index."""
    import json

    try:
        weight_map: dict[str, Any] = json.loads(index_file.read_text(encoding="utf-8"))["weight_map"]
        return sorted({str(v) for v in weight_map.values()})
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DownloadError(f"{index_file.name} is not a weights index: {exc}") from None


def _verify(part: Path, etag: str, filename: str) -> None:
    """Check a finished file against its etag: sha256 for large (LFS) files, git's blob sha1 for the others."""
    if len(etag) == 64:
        digest = hashlib.sha256()
    elif len(etag) == 40:
        digest = hashlib.sha1(usedforsecurity=False)
        digest.update(b"blob %d\0" % part.stat().st_size)
    else:
        return
    with part.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    if digest.hexdigest() != etag:
        part.unlink()
        raise DownloadError(f"{filename} arrived corrupted (checksum mismatch) and was deleted; run the pull again")


def _write_ref(storage: Path, revision: str, commit: str) -> None:
    """Point `refs/<revision>` at the commit (atomically), once every file is in place."""
    ref = storage / "refs" / revision
    _check_inside(ref, storage)
    ref.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(ref, commit.encode("utf-8"))


def _check_inside(path: Path, root: Path) -> None:
    if not path.resolve().is_relative_to(root.resolve()):
        raise DownloadError(f"refusing to write outside the cache folder: {path}")


def _same_host(url: str, endpoint: str) -> bool:
    """True when `url` is on the hub itself, so the token may be sent with it."""
    return urlsplit(url).netloc == urlsplit(endpoint).netloc


def _explain(exc: Exception, spec: RepoSpec, endpoint: str) -> DownloadError:
    """One message for the writer for any failure of the hub client."""
    import httpx2
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )
    from huggingface_hub.utils import OfflineModeIsEnabled

    if isinstance(exc, GatedRepoError):
        return AccessDenied(
            f"{spec.repo_id} is gated: accept its conditions at {endpoint}/{spec.repo_id}, "
            f"then set HF_TOKEN to a token of that account"
        )
    if isinstance(exc, RevisionNotFoundError):
        return RepoNotFound(f"{spec.repo_id} has no revision {spec.revision!r} on {endpoint}")
    if isinstance(exc, RemoteEntryNotFoundError):
        return RepoNotFound(f"a file listed for {spec} is missing on {endpoint}")
    if isinstance(exc, RepositoryNotFoundError):
        return RepoNotFound(
            f"no repository {spec.repo_id} on {endpoint} (check the name; if it is private, set HF_TOKEN)"
        )
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        status = exc.response.status_code
        if status in (401, 403):
            return AccessDenied(
                f"{endpoint} refused access to {spec.repo_id} (HTTP {status}): set HF_TOKEN to a token with access"
            )
        return DownloadError(f"{endpoint} answered HTTP {status} for {spec}; try again later")
    if isinstance(exc, OfflineModeIsEnabled):
        return HubUnreachable(f"cannot download {spec}: HF_HUB_OFFLINE is set (unset it to allow downloads)")
    if isinstance(exc, httpx2.TimeoutException):
        return HubUnreachable(f"{endpoint} did not answer in time; check the network connection and try again")
    if isinstance(exc, httpx2.TransportError):
        return HubUnreachable(
            f"cannot reach {endpoint} ({type(exc).__name__}); check the network connection, "
            f"or set HF_HUB_OFFLINE=1 to work with cached models only"
        )
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFull(f"the disk is full ({hf_cache_dir()}); free some space and run the same pull again")
    return DownloadError(f"downloading {spec} failed: {type(exc).__name__}: {exc}")


def format_bytes(n: int | float | None) -> str:
    """Bytes for people: 512 B, 3.4 MB, 1.52 GB (powers of 1000, as the hub shows sizes)."""
    if n is None:
        return "?"
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000:
            return f"{n:.0f} {unit}" if unit == "B" or n >= 100 else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB" if n < 100 else f"{n:.0f} TB"
