"""A text document on disk: open it as UTF-8 (a byte-order mark is kept) or, when it is not UTF-8, as Windows-1252
(the Western code page of smart quotes and dashes), refuse binary files, save safely in the same encoding.

Opening never writes; a file that is binary (a NUL byte anywhere) or not text raises `DocumentError` and stays
untouched; fifos, devices, sockets and folders are refused before any read (`scribe.files.read_bounded`). The document
remembers what it read (`DiskState`: size, mtime, hash); saving refuses with `SaveConflict` when the file changed on
disk since, unless told to overwrite. Saving goes through `scribe.files.atomic_write`: a crash leaves either the old
or the new file, symbolic links are written through, the file's mode and owner are kept, read-only files are left.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from scribe.files import DiskState, FileSafetyError, ReadOnlyFile, atomic_write, describe_os_error, read_bounded

BOM = b"\xef\xbb\xbf"
MAX_BYTES = 64 * 1024 * 1024
"""Larger files are refused: a writing studio is not a log viewer."""
WESTERN = "cp1252"
"""The legacy encoding tried when a file is not UTF-8."""


class DocumentError(Exception):
    """A file that cannot be opened or saved as a text document; the message names the file and the reason."""


class SaveConflict(DocumentError):
    """The file changed on disk since the document read it; `on_disk` is its state now (size -1: it is gone)."""

    def __init__(self, message: str, on_disk: DiskState) -> None:
        super().__init__(message)
        self.on_disk = on_disk


class ReadOnlyDocument(DocumentError):
    """The file is read-only: it is not replaced; save under another name."""


def text_hash(data: bytes) -> str:
    """The hash the journal records for a file's bytes."""
    return hashlib.sha256(data).hexdigest()


def decode_text(data: bytes, path: Path) -> tuple[str, str]:
    """The text of a file's bytes and its encoding ("utf-8", "utf-8-sig" with a byte-order mark, or "cp1252");
    DocumentError for binary data (a NUL byte anywhere) or bytes neither encoding reads."""
    if b"\x00" in data:
        raise DocumentError(f"{path}: looks like a binary file (it contains NUL bytes); not opened")
    encoding = "utf-8-sig" if data.startswith(BOM) else "utf-8"
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError as exc:
        utf8_error = exc.start
    try:
        return data.decode(WESTERN), WESTERN
    except UnicodeDecodeError:
        raise DocumentError(f"{path}: neither UTF-8 nor Windows-1252 text (undecodable byte at offset {utf8_error}); "
                            "not opened") from None


@dataclass
class Document:
    """An open document: where it lives (None while untitled), its encoding, and what is on disk."""

    path: Path | None = None
    saved_text: str = ""
    """The text as last read from or written to disk."""
    encoding: str = "utf-8"
    """How the file is read and saved: "utf-8", "utf-8-sig" (UTF-8 with a byte-order mark) or "cp1252"."""
    disk: DiskState | None = None
    """Size, mtime and hash of the file as last read or written; None when the file did not exist."""

    @property
    def disk_hash(self) -> str | None:
        """sha256 of the file's bytes as last read or written; None when the file does not exist yet."""
        return self.disk.sha256 if self.disk else None

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> "Document":
        """Read a file; a path that does not exist yet gives an empty document that saves there."""
        file = Path(path).expanduser().absolute()
        if not file.exists() and not file.is_symlink():
            if not file.parent.is_dir():
                raise DocumentError(f"{file}: the folder {file.parent} does not exist")
            return cls(path=file)
        try:
            data = read_bounded(file, MAX_BYTES, what="text document")
            state = DiskState.of_bytes(data, file)
        except FileSafetyError as exc:
            raise DocumentError(str(exc)) from None
        except OSError as exc:
            raise DocumentError(f"{file}: cannot read: {exc.strerror or exc}") from None
        text, encoding = decode_text(data, file)
        return cls(path=file, saved_text=text, encoding=encoding, disk=state)

    def changed_on_disk(self) -> DiskState | None:
        """None while the file holds what was last read or written, else its state now (size -1 when removed).

        A file that appeared where none was read counts as changed; one merely touched does not (its new mtime is
        remembered).
        """
        if self.path is None:
            return None
        if self.disk is None:
            return None if not self.path.exists() else DiskState(self.path.stat().st_size, 0, "")
        now = self.disk.changed(self.path)
        if now is not None and now.sha256 == self.disk.sha256:
            self.disk = now
            return None
        return now

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

    @property
    def bom(self) -> bool:
        """True when the file starts with a UTF-8 byte-order mark (kept on saving)."""
        return self.encoding == "utf-8-sig"

    def encoded(self, text: str) -> bytes:
        """The bytes `text` is saved as, in the file's encoding; DocumentError naming a character it cannot hold."""
        try:
            return text.encode(self.encoding)
        except UnicodeEncodeError as exc:
            name = self.path.name if self.path else "this document"
            raise DocumentError(f"{name} is {self.encoding} text, which cannot hold {text[exc.start]!r} "
                                f"(character {exc.start}); remove it, or save as a new file (saved as UTF-8)") from None

    def reload(self) -> None:
        """Read the file again and make what is on disk the saved state; DocumentError when it cannot be read."""
        if self.path is None:
            raise DocumentError("this document has no file to reload")
        if not self.path.exists():
            raise DocumentError(f"{self.path}: was removed; nothing to reload (save to write it again)")
        fresh = Document.open(self.path)
        self.saved_text, self.encoding, self.disk = fresh.saved_text, fresh.encoding, fresh.disk

    def save(self, text: str, path: str | os.PathLike[str] | None = None, *, overwrite: bool = False) -> Path:
        """Write `text` to `path` (default: the document's own path) and make it the saved state.

        Saving to the document's own file raises SaveConflict when the file changed on disk since it was read or
        written, unless `overwrite`; a read-only file raises ReadOnlyDocument and is left as it is.
        """
        target = Path(path).expanduser().absolute() if path is not None else self.path
        if target is None:
            raise DocumentError("this document has no file name yet")
        if target == self.path and not overwrite and (now := self.changed_on_disk()) is not None:
            what = "was removed" if now.size < 0 else "changed on disk"
            raise SaveConflict(f"{target}: {what} since it was opened or saved; not saved", now)
        try:
            data = self.encoded(text)
        except DocumentError:
            if target == self.path:
                raise
            self.encoding = "utf-8"  # a new file takes what the old encoding cannot hold
            data = self.encoded(text)
        try:
            written = atomic_write(target, data)
            state = DiskState.of_bytes(data, written)
        except ReadOnlyFile as exc:
            raise ReadOnlyDocument(str(exc)) from None
        except OSError as exc:
            raise DocumentError(f"cannot save: {describe_os_error(exc, target)}") from None
        self.path, self.saved_text, self.disk = target, text, state
        return target


def copy_beside(path: Path, label: str = "your copy") -> Path:
    """A free name beside `path` for a copy of the writer's text: `story (your copy 2026-12-06 0415).txt`."""
    stamp = time.strftime("%Y-%m-%d %H%M%S")
    n = 1
    while (candidate := path.with_name(f"{path.stem} ({label} {stamp}{f' {n}' if n > 1 else ''}){path.suffix}")).exists():
        n += 1
    return candidate
