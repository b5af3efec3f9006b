"""File safety: the one way scribe writes a file, and the one way it reads a file a user named.

`atomic_write` writes a temporary file beside the target, fsyncs it, renames it over the target and fsyncs the
folder, so a crash leaves the old file or the new one, never half of one. It writes through symbolic links to their
target, keeps an existing file's mode (and owner, where the OS lets it), gives a new file the mode the umask gives
(0644 under the usual 022) unless told otherwise, and refuses to replace a file the user made read-only.

`replace_folder` does the same for a folder (a model, a checkpoint, a cached tokenizer): the new one is written beside
it, flushed, and swapped into place; the old one is removed only once the new one stands.

`read_bounded` checks what a path is before reading it: a directory, fifo, device or socket is refused with one line
instead of a read that hangs or never ends, and at most `limit` bytes are read even from a file that claims to be
empty. `DiskState` is what was read (size, mtime, sha256): comparing it with the file later tells whether someone
else changed the file in between.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

DEFAULT_READ_LIMIT = 64 * 1024 * 1024
"""The most bytes `read_bounded` reads when not told otherwise."""
_CHUNK = 1024 * 1024
_umask_lock = threading.Lock()


class FileSafetyError(OSError):
    """A file scribe will not read or write as asked; the message is one line naming the file and what to do."""

    def __str__(self) -> str:
        return self.args[0] if self.args else super().__str__()


class ReadOnlyFile(FileSafetyError):
    """The target exists and is not writable by this user: scribe does not replace it behind the user's back."""


def describe_os_error(exc: OSError, path: Path | str) -> str:
    """One line for an OSError: the path, the reason, and for a full disk the words "no space left on device"."""
    if exc.errno == errno.ENOSPC:
        return f"{path}: no space left on device; free some space and try again"
    if exc.errno == errno.EDQUOT:
        return f"{path}: disk quota exceeded; free some space and try again"
    if isinstance(exc, FileSafetyError):
        return str(exc)
    return f"{path}: {exc.strerror or exc}"


def _kind(mode: int) -> str | None:
    """What a non-regular file is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (fifo)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _open_checked(file: Path, what: str) -> tuple[int, os.stat_result]:
    """A blocking descriptor on the regular file at `file` and its fstat; FileSafetyError for anything else.

    The file is opened without blocking (a fifo with no writer would otherwise wait forever) and checked with
    fstat on the open descriptor before any read, so what is read is what was checked.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(file, flags)
    except OSError as exc:
        if exc.errno == errno.EISDIR:
            raise FileSafetyError(f"{file}: is a folder, not a {what}") from None
        if exc.errno == errno.ENXIO:  # a socket, or a fifo opened for writing only
            raise FileSafetyError(f"{file}: is not a regular file; give a {what}") from None
        raise
    try:
        info = os.fstat(fd)
        kind = _kind(info.st_mode)
        if kind is not None:
            raise FileSafetyError(f"{file}: is {kind}, not a {what}; give a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, info


def open_regular(path: str | os.PathLike[str], what: str = "file") -> BinaryIO:
    """The regular file at `path` opened for reading in binary, checked as `read_bounded` checks it (for files read
    in chunks, of any size, such as a training corpus); FileSafetyError for a folder, fifo, device or socket."""
    fd, _ = _open_checked(Path(path), what)
    return os.fdopen(fd, "rb")


def read_bounded(path: str | os.PathLike[str], limit: int = DEFAULT_READ_LIMIT, what: str = "file") -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them; FileSafetyError for anything else
    (checked as `_open_checked` says, so what is read is what was checked)."""
    file = Path(path)
    fd, info = _open_checked(file, what)
    try:
        if info.st_size > limit:
            raise FileSafetyError(f"{file}: {info.st_size} bytes is more than the {limit} a {what} may have")
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise FileSafetyError(f"{file}: grows past {limit} bytes while being read; not a {what} to read")
        return b"".join(chunks)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class DiskState:
    """What a file looked like when scribe read or wrote it."""

    size: int
    mtime_ns: int
    sha256: str

    @classmethod
    def of_bytes(cls, data: bytes, path: Path) -> "DiskState":
        """The state of `path` just read or written as `data` (stat now, hash of `data`)."""
        info = path.stat()
        return cls(info.st_size, info.st_mtime_ns, hashlib.sha256(data).hexdigest())

    def changed(self, path: Path) -> "DiskState | None":
        """None when `path` still holds what this state describes, else its new state (size -1 when it is gone).

        A matching size and mtime is taken as unchanged without reading; otherwise the content is hashed, so a
        file merely touched counts as unchanged (its new state is returned with the same hash).
        """
        try:
            info = path.stat()
        except FileNotFoundError:
            return DiskState(-1, 0, "")
        if (info.st_size, info.st_mtime_ns) == (self.size, self.mtime_ns):
            return None
        try:
            digest = _hash_file(path)
        except OSError:
            return DiskState(info.st_size, info.st_mtime_ns, "")
        return DiskState(info.st_size, info.st_mtime_ns, digest)


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _current_umask() -> int:
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def resolve_target(target: str | os.PathLike[str]) -> Path:
    """The file a write to `target` changes: a symbolic link (or a chain of them) gives its final target."""
    path = Path(target)
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def atomic_write(target: str | os.PathLike[str], data: bytes, *, new_mode: int | None = None) -> Path:
    """Replace the file at `target` with `data` atomically and durably; the path actually written is returned.

    A symbolic link is written through (the link stays, its target changes). An existing file keeps its mode and,
    where allowed, its owner and group; a new file gets `new_mode`, or 0666 less the umask. A file that exists but
    is not writable raises ReadOnlyFile and is left as it is. Any OSError leaves the old file and no temporary.
    """
    with atomic_writer(target, new_mode=new_mode) as handle:
        handle.write(data)
    return resolve_target(target)


@contextlib.contextmanager
def atomic_writer(target: str | os.PathLike[str], *, new_mode: int | None = None) -> Iterator[BinaryIO]:
    """`atomic_write` for data written in pieces: the file handle to write to; the file replaces `target` when the
    block ends without an exception (an exception leaves the old file and no temporary)."""
    path = resolve_target(target)
    try:
        info: os.stat_result | None = path.stat()
    except FileNotFoundError:
        info = None
    if info is not None:
        if stat.S_ISDIR(info.st_mode):
            raise FileSafetyError(f"{path}: is a folder; choose a file name")
        if not os.access(path, os.W_OK) or not info.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
            raise ReadOnlyFile(f"{path}: is read-only; save it under another name (or make it writable first)")
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if info is not None:
            os.chmod(tmp_name, stat.S_IMODE(info.st_mode))
            if hasattr(os, "chown") and (info.st_uid, info.st_gid) != (os.getuid(), os.getgid()):
                try:
                    os.chown(tmp_name, info.st_uid, info.st_gid)
                except OSError:
                    pass  # only root may give a file away; the group is kept where the user belongs to it
        else:
            os.chmod(tmp_name, new_mode if new_mode is not None else 0o666 & ~_current_umask())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (a no-op where folders cannot be opened, as on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_tree(folder: Path) -> None:
    """Flush every file under `folder`, and the folders themselves, to disk (before a folder is renamed into place)."""
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        elif path.is_dir():
            fsync_dir(path)
    fsync_dir(folder)


def replace_folder(folder: Path, fill: Callable[[Path], object]) -> None:
    """Create or replace `folder` atomically: `fill(tmp)` writes a temporary sibling, which is flushed to disk and
    swapped into place. The old folder is removed only after the new one is in place (and put back if the swap fails);
    whatever `fill` raises leaves `folder` as it was and no temporary behind. Its files get the usual permissions
    (0644 under a 022 umask), whatever temporary files the writers made them from (transformers' `save_pretrained`
    leaves 0600)."""
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
        fill(tmp)
        usual = 0o666 & ~_current_umask()
        for path in tmp.rglob("*"):
            if path.is_file() and not path.is_symlink():
                os.chmod(path, usual)
        fsync_tree(tmp)
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
        fsync_dir(folder.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not folder.exists():
            os.replace(old, folder)
        raise
    shutil.rmtree(old, ignore_errors=True)


def set_aside(path: Path) -> Path:
    """Rename a damaged file to `<name>.bad-<n>` beside it (the first n not taken) and return the new path."""
    n = 1
    while (aside := path.with_name(f"{path.name}.bad-{n}")).exists():
        n += 1
    os.replace(path, aside)
    return aside
