"""The autosave journal: the open document's unsaved text, kept on disk so a crash or a kill loses at most a few seconds.

One JSON file per document in `Paths.autosave`, named by a hash of the document's key (its absolute path, or an
`untitled-...` id), holding the text, the path, the time and the sha256 of the file on disk when the entry was written.
Each write goes to a temporary file that is fsynced and renamed over the entry, so an entry is always whole.

A large text is not rewritten at every autosave: the entry is a base snapshot naming a change log beside it
(`<stem>.<log id>.log`), and each later autosave appends one JSON line (the one edited span: where, how many
characters removed, the text inserted, and the length after) and fsyncs it. Reading applies the log's whole lines in
order; a last line cut short by a kill is left out, so the text read is exactly the one of the last complete autosave.
The Autosaver writes a fresh base (with a new log id, then removes the old log) when the log grows past a share of
the text (`compact_due`).

A running editor holds an OS lock on its document's key (`Journal.claim`) and writes its process id in the lock file;
the OS drops the lock when the process dies, however it dies, so a crash never leaves a stale lock. An entry whose
key nobody holds and whose text differs from the file is an unsaved text left by a crash: `recovery_for` and `orphans` find those.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from scribe.files import FileSafetyError, atomic_write, read_bounded, set_aside
from scribe.studio.document import MAX_BYTES, Document

FORMAT_VERSION = 1
MAX_ENTRY_BYTES = 8 * MAX_BYTES
"""An entry holds a document's text, JSON-escaped (at most 6 bytes for each byte of the largest document)."""
UNTITLED_PREFIX = "untitled-"
LOG_MAX_RECORDS = 256
"""Log records after which the next autosave writes a fresh base instead (bounds the work of reading an entry)."""
LOG_MIN_BYTES = 1 << 20
"""A log always may grow to this size before a fresh base is due; past it, once it reaches a quarter of the text."""


def new_untitled_key() -> str:
    """A fresh key for an untitled document."""
    return UNTITLED_PREFIX + uuid.uuid4().hex


@dataclass(frozen=True)
class JournalEntry:
    """One journalled text."""

    key: str
    path: str | None
    """The document's absolute path, or None while untitled."""
    text: str
    saved_at: float
    """Seconds since the epoch when the entry was written."""
    disk_hash: str | None
    """sha256 of the file on disk the text was based on (None for a file not yet written)."""
    log: str | None = None
    """The id of the change log appended to this entry's base (None for an entry written before logs existed)."""

    @property
    def untitled(self) -> bool:
        """True for an entry of a document that was never saved."""
        return self.path is None

    def to_dict(self) -> dict[str, Any]:
        """The JSON record."""
        return {"version": FORMAT_VERSION, "key": self.key, "path": self.path, "text": self.text,
                "saved_at": self.saved_at, "disk_hash": self.disk_hash, "log": self.log}


@dataclass(frozen=True)
class Edit:
    """One edited span: `removed` characters at `at` replaced by `inserted`, leaving a text `length` long."""

    at: int
    removed: int
    inserted: str
    length: int

    @classmethod
    def between(cls, old: str, new: str) -> Edit:
        """The single span where `new` differs from `old` (their common start and end kept)."""
        shortest = min(len(old), len(new))
        start = _common_length(old, new, shortest, from_end=False)
        end = _common_length(old, new, shortest - start, from_end=True)
        return cls(at=start, removed=len(old) - start - end, inserted=new[start:len(new) - end], length=len(new))

    def apply(self, text: str) -> str:
        """`text` with this edit made; ValueError when it does not fit."""
        if self.at + self.removed > len(text) or len(text) - self.removed + len(self.inserted) != self.length:
            raise ValueError(f"an edit at {self.at} does not fit a text of {len(text)} characters")
        return text[:self.at] + self.inserted + text[self.at + self.removed:]

    def to_line(self, saved_at: float) -> bytes:
        """The log line for this edit."""
        record = {"at": self.at, "del": self.removed, "ins": self.inserted, "len": self.length, "t": saved_at}
        return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")


ESCAPE_CHUNK = 1 << 20
"""Characters of text JSON-escaped in one call: each call holds the interpreter's lock, so a long text is escaped in
pieces and the editor's thread runs between them."""


def _entry_json(entry: JournalEntry) -> bytes:
    """The entry's JSON record, its text escaped a piece at a time (one `json.dumps` of a 50 MB text would stall
    every other thread for a second)."""
    record = entry.to_dict()
    text = record.pop("text")
    head = json.dumps(record, ensure_ascii=False)
    pieces = [head[:-1].encode("utf-8"), b', "text": "']
    for start in range(0, len(text), ESCAPE_CHUNK):
        pieces.append(json.dumps(text[start:start + ESCAPE_CHUNK], ensure_ascii=False)[1:-1].encode("utf-8"))
    pieces.append(b'"}')
    return b"".join(pieces)


def join_lines(lines: list[str], newline: str, group: int = 20_000) -> str:
    """`newline.join(lines)` in groups of lines, so that no single call holds the interpreter's lock for long."""
    if len(lines) <= group:
        return newline.join(lines)
    return newline.join(newline.join(lines[start:start + group]) for start in range(0, len(lines), group))


def _common_length(old: str, new: str, limit: int, *, from_end: bool) -> int:
    """How many characters (at most `limit`) `old` and `new` share at their start (or end), compared in halving
    blocks so that a long common part costs a few block comparisons, not one step per character."""
    common, block = 0, 1 << 16
    while block:
        while common + block <= limit and (
            old[len(old) - common - block:len(old) - common] == new[len(new) - common - block:len(new) - common]
            if from_end else old[common:common + block] == new[common:common + block]
        ):
            common += block
        block //= 2
    return common


class Journal:
    """The journal folder. Safe to use from several threads; writes are atomic."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._locks: dict[str, int] = {}
        self._guard = threading.Lock()
        self.problems: list[str] = []
        """One line per damaged entry found and set aside since the last `take_problems`."""

    def _stem(self, key: str) -> str:
        return hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]

    def entry_file(self, key: str) -> Path:
        """The file holding `key`'s entry."""
        return self.root / f"{self._stem(key)}.json"

    def _lock_file(self, key: str) -> Path:
        return self.root / f"{self._stem(key)}.lock"

    def log_file(self, key: str, log: str) -> Path:
        """The change log `log` of `key`'s entry."""
        return self.root / f"{self._stem(key)}.{log}.log"

    def write(self, key: str, text: str, *, path: Path | None, disk_hash: str | None) -> JournalEntry:
        """Journal `text` for `key` as a fresh base (atomically, fsynced) with an empty change log; return the entry."""
        entry = JournalEntry(key=key, path=str(path) if path else None, text=text, saved_at=time.time(),
                             disk_hash=disk_hash, log=uuid.uuid4().hex[:16])
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write(self.entry_file(key), _entry_json(entry), new_mode=0o600)
        self._remove_logs(key, keep=entry.log)
        return entry

    def append(self, key: str, log: str, edit: Edit) -> int:
        """Append `edit` to `key`'s change log `log` (fsynced); the bytes written."""
        line = edit.to_line(time.time())
        fd = os.open(self.log_file(key, log), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        return len(line)

    def _remove_logs(self, key: str, keep: str | None = None) -> None:
        for file in self.root.glob(f"{self._stem(key)}.*.log"):
            if keep is None or file != self.log_file(key, keep):
                file.unlink(missing_ok=True)

    def read(self, key: str) -> JournalEntry | None:
        """The entry for `key`, or None when there is none; a damaged one is set aside (see `take_problems`)."""
        return self._read(self.entry_file(key))

    def _read(self, file: Path) -> JournalEntry | None:
        try:
            entry = _read_entry(file)
            return entry if entry.log is None else _replay(entry, file.with_name(f"{file.stem}.{entry.log}.log"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            try:
                aside = set_aside(file)
                for log in file.parent.glob(f"{file.stem}.*.log"):  # its change log goes aside with it
                    set_aside(log)
            except OSError as move:
                self.problems.append(f"{file}: damaged journal entry ({exc}); could not move it aside: {move}")
                return None
            self.problems.append(f"{file}: damaged journal entry ({exc}); kept as {aside}, not used")
            return None

    def take_problems(self) -> list[str]:
        """The damaged-entry messages gathered so far (then forgotten)."""
        with self._guard:
            found, self.problems = self.problems, []
        return found

    def clear(self, key: str) -> None:
        """Remove `key`'s entry and its change log (after a clean save or quit)."""
        self.entry_file(key).unlink(missing_ok=True)
        if self.root.is_dir():
            self._remove_logs(key)

    def claim(self, key: str) -> bool:
        """Lock `key` for this process until `release`; False when another running process holds it."""
        with self._guard:
            if key in self._locks:
                return True
            fd = _try_lock(self._lock_file(key), self.root)
            if fd is None:
                return False
            self._locks[key] = fd
            return True

    def release(self, key: str) -> None:
        """Drop the lock taken by `claim`."""
        with self._guard:
            fd = self._locks.pop(key, None)
        if fd is not None:
            self._lock_file(key).unlink(missing_ok=True)
            os.close(fd)

    def holder(self, key: str) -> int | None:
        """The process id recorded by whoever holds `key`'s lock (None if unknown)."""
        try:
            return int(self._lock_file(key).read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return None

    def is_abandoned(self, key: str) -> bool:
        """True when no running process holds `key` (this process counts as holding the keys it claimed)."""
        with self._guard:
            if key in self._locks:
                return False
        fd = _try_lock(self._lock_file(key), self.root)
        if fd is None:
            return False
        self._lock_file(key).unlink(missing_ok=True)
        os.close(fd)
        return True

    def recovery_for(self, document: Document) -> JournalEntry | None:
        """An abandoned entry for this saved document whose text differs from the file; stale entries are removed."""
        if document.key is None:
            return None
        entry = self.read(document.key)
        if entry is None or not self.is_abandoned(document.key):
            return None
        if entry.text == document.saved_text:
            self.clear(document.key)
            return None
        return entry

    def orphans(self) -> list[JournalEntry]:
        """Abandoned untitled entries, newest first."""
        if not self.root.is_dir():
            return []
        found = [entry for file in self.root.glob("*.json") if (entry := self._read(file)) is not None]
        untitled = [entry for entry in found if entry.untitled and entry.text and self.is_abandoned(entry.key)]
        return sorted(untitled, key=lambda entry: entry.saved_at, reverse=True)


class Autosaver:
    """Journals one document's text: skips unchanged text and never writes back an entry cleared after a newer edit.

    `version` is the editor's edit counter when the text was taken; a write taken before the last `clear` is dropped,
    so an autosave still running when the writer saves cannot resurrect the entry.
    """

    def __init__(self, journal: Journal, key: str, document: Document) -> None:
        self.journal = journal
        self.key = key
        self.document = document
        self._lock = threading.Lock()
        self._journalled: str | None = None
        self._journalled_version = -1
        self._cleared_version = -1
        self._base: tuple[str, str | None, str | None] | None = None
        """The current base's log id, path and disk hash (None until a base is written after the last clear)."""
        self._log_records = 0
        self._log_bytes = 0
        self.bytes_written = 0
        """Bytes written to the journal by this autosaver (bases and log lines), for the writer's curiosity and tests."""

    def up_to_date(self, version: int) -> bool:
        """True when the text at edit counter `version` is already journalled, or cleared (saved or discarded)."""
        return version <= max(self._journalled_version, self._cleared_version)

    def save(self, text: str, version: int) -> bool:
        """Journal `text` if it is newer than the last clear, unsaved and not yet journalled; True if written.

        Text equal to the file on disk removes the entry instead.
        """
        with self._lock:
            if self.up_to_date(version) or text == self._journalled:
                return False
            if not self.document.is_dirty(text):
                if self._journalled is not None:
                    self.journal.clear(self.key)
                    self._forget()
                return False
            where = (str(self.document.path) if self.document.path else None, self.document.disk_hash)
            if self._base is None or self._journalled is None or self._base[1:] != where or self.compact_due(len(text)):
                entry = self.journal.write(self.key, text, path=self.document.path, disk_hash=self.document.disk_hash)
                self.bytes_written += self.journal.entry_file(self.key).stat().st_size
                self._base, self._log_records, self._log_bytes = (entry.log or "", *where), 0, 0
            else:
                written = self.journal.append(self.key, self._base[0], Edit.between(self._journalled, text))
                self._log_records += 1
                self._log_bytes += written
                self.bytes_written += written
            self._journalled = text
            self._journalled_version = version
            return True

    def compact_due(self, length: int) -> bool:
        """True when the change log has grown enough that the next autosave should write a fresh base instead."""
        return self._log_records >= LOG_MAX_RECORDS or self._log_bytes > max(LOG_MIN_BYTES, length // 4)

    def _forget(self) -> None:
        self._journalled = None
        self._journalled_version = -1
        self._base = None

    def clear(self, version: int) -> None:
        """Remove the entry (the text up to `version` is saved or discarded)."""
        with self._lock:
            self._cleared_version = max(self._cleared_version, version)
            self._forget()
            self.journal.clear(self.key)

    def rekey(self, key: str) -> None:
        """Move to a new key (an untitled document saved under a name): the old entry and lock go."""
        with self._lock:
            self.journal.clear(self.key)
            self.journal.release(self.key)
            self.key = key
            self._forget()
            self.journal.claim(key)


_ENTRY_SHAPE: dict[str, tuple[type, ...]] = {"key": (str,), "path": (str, type(None)), "text": (str,),
                                             "saved_at": (int, float), "disk_hash": (str, type(None))}


def _read_entry(file: Path) -> JournalEntry:
    """The entry in `file`; FileNotFoundError when there is none, ValueError (saying what is wrong) when damaged."""
    try:
        data = json.loads(read_bounded(file, MAX_ENTRY_BYTES, what="journal entry").decode("utf-8"))
    except FileSafetyError as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(data, dict):
        raise ValueError(f"a JSON {type(data).__name__}, not an object")
    for name, kinds in _ENTRY_SHAPE.items():
        if name not in data:
            raise ValueError(f"no {name!r}")
        if not isinstance(data[name], kinds) or isinstance(data[name], bool):
            raise ValueError(f"{name!r} is {type(data[name]).__name__}")
    log = data.get("log")
    if log is not None and (not isinstance(log, str) or not log.isalnum()):
        raise ValueError("'log' is not a log id")
    return JournalEntry(key=data["key"], path=data["path"], text=data["text"], saved_at=float(data["saved_at"]),
                        disk_hash=data["disk_hash"], log=log)


def _replay(entry: JournalEntry, log_file: Path) -> JournalEntry:
    """`entry` with the whole lines of its change log applied; a last line cut short (a kill mid-append) is left out;
    ValueError when a whole line is damaged or does not fit."""
    try:
        data = read_bounded(log_file, MAX_ENTRY_BYTES, what="journal log")
    except FileNotFoundError:
        return entry
    except FileSafetyError as exc:
        raise ValueError(str(exc)) from None
    text, saved_at = entry.text, entry.saved_at
    whole = data[:data.rfind(b"\n") + 1]
    for number, line in enumerate(whole.splitlines(), start=1):
        try:
            record = json.loads(line.decode("utf-8"))
            edit = Edit(at=record["at"], removed=record["del"], inserted=record["ins"], length=record["len"])
            if not all(isinstance(n, int) and n >= 0 for n in (edit.at, edit.removed, edit.length)) \
                    or not isinstance(edit.inserted, str):
                raise ValueError("a field of the wrong type")
            text, saved_at = edit.apply(text), float(record["t"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{log_file.name} line {number}: {exc}") from None
    return replace(entry, text=text, saved_at=saved_at)


def _try_lock(file: Path, root: Path) -> int | None:
    """Open and lock `file` without waiting; the open descriptor (the lock lives as long as it), or None if held."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.name == "nt":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode("ascii"))
    return fd
