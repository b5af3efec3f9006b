"""A text document on disk: open it as UTF-8 (a byte-order mark is kept), refuse binary files, save atomically.

Opening never writes; a file that is binary or not UTF-8 raises `DocumentError` and stays untouched. Saving writes a
temporary file next to the target, flushes it to disk and renames it over the target, so a crash leaves either the old
or the new file, never half of one.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

BOM = b"\xef\xbb\xbf"
MAX_BYTES = 64 * 1024 * 1024
"""Larger files are refused: a writing studio is not a log viewer."""
_SNIFF_BYTES = 8192


class DocumentError(Exception):
    """A file that cannot be opened or saved as a text document; the message names the file and the reason."""


def text_hash(data: bytes) -> str:
    """The hash the journal records for a file's bytes."""
    return hashlib.sha256(data).hexdigest()


def decode_text(data: bytes, path: Path) -> tuple[str, bool]:
    """The text of a file's bytes and whether it started with a UTF-8 byte-order mark; DocumentError if not text."""
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise DocumentError(f"{path}: looks like a binary file (it contains NUL bytes); not opened")
    bom = data.startswith(BOM)
    try:
        return data[len(BOM) if bom else 0 :].decode("utf-8"), bom
    except UnicodeDecodeError as exc:
        raise DocumentError(f"{path}: not UTF-8 text (undecodable byte at offset {exc.start}); not opened") from None


@dataclass
class Document:
    """An open document: where it lives (None while untitled), whether it had a BOM, and what is on disk."""

    path: Path | None = None
    saved_text: str = ""
    """The text as last read from or written to disk."""
    bom: bool = False
    disk_hash: str | None = None
    """sha256 of the file's bytes as last read or written; None when the file does not exist yet."""

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> "Document":
        """Read a file; a path that does not exist yet gives an empty document that saves there."""
        file = Path(path).expanduser().absolute()
        if file.is_dir():
            raise DocumentError(f"{file}: is a folder, not a file")
        if not file.exists():
            if not file.parent.is_dir():
                raise DocumentError(f"{file}: the folder {file.parent} does not exist")
            return cls(path=file)
        try:
            size = file.stat().st_size
            if size > MAX_BYTES:
                raise DocumentError(f"{file}: {size} bytes is too large to edit (limit {MAX_BYTES})")
            data = file.read_bytes()
        except OSError as exc:
            raise DocumentError(f"{file}: cannot read: {exc.strerror or exc}") from None
        text, bom = decode_text(data, file)
        return cls(path=file, saved_text=text, bom=bom, disk_hash=text_hash(data))

    @property
    def key(self) -> str | None:
        """The journal key: the absolute path, or None while untitled."""
        return str(self.path) if self.path else None

    @property
    def title(self) -> str:
        """The file name, or "untitled"."""
        return self.path.name if self.path else "untitled"

    def is_dirty(self, text: str) -> bool:
        """True when `text` differs from what is on disk."""
        return text != self.saved_text

    def save(self, text: str, path: str | os.PathLike[str] | None = None) -> Path:
        """Write `text` atomically to `path` (default: the document's own path) and make it the saved state."""
        target = Path(path).expanduser().absolute() if path is not None else self.path
        if target is None:
            raise DocumentError("this document has no file name yet")
        data = (BOM if self.bom else b"") + text.encode("utf-8")
        try:
            atomic_write(target, data)
        except OSError as exc:
            raise DocumentError(f"{target}: cannot save: {exc.strerror or exc}") from None
        self.path, self.saved_text, self.disk_hash = target, text, text_hash(data)
        return target


def atomic_write(target: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `target`, fsync it, rename it over `target`, fsync the folder.

    An existing file's permission bits are kept.
    """
    mode = target.stat().st_mode & 0o7777 if target.exists() else None
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp_name, mode)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def _fsync_dir(folder: Path) -> None:
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
