"""The autosave journal: the open document's unsaved text, kept on disk so a crash or a kill loses at most a few seconds.

One JSON file per document in `Paths.autosave`, named by a hash of the document's key (its absolute path, or an
`untitled-...` id), holding the text, the path, the time and the sha256 of the file on disk when the entry was written.
Each write goes to a temporary file that is fsynced and renamed over the entry, so an entry is always whole.

A large text is not rewritten at every autosave: the entry is a base snapshot naming a change log beside it
(`<stem>.<log id>.log`), and each later autosave appends one JSON line holding the line ranges edited since the one
before (`LineEdit`: where, how many lines removed, the lines put there) and the line count after, and fsyncs it.
Reading splits the base at its newline, applies the log's whole lines in order and joins; a last line cut short by a
kill is left out, so the text read is exactly the one of the last complete autosave. The Autosaver writes a fresh
base (with a new log id, then removes the old log) when the log grows past a share of the text (`compact_due`).

The editor hands the Autosaver its edits (`LineChanges`, recorded as they happen), never its whole text: the
Autosaver keeps its own list of the text's lines (`track`: the editor's strings shared, not copied) and applies the
edits to it in the autosave worker, so the editor's thread does work in proportion to the edits, however long the
text; only a fresh base joins the lines, in that worker.

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
from collections.abc import Iterator, Sequence
from typing import Any

from scribe.files import FileSafetyError, atomic_writer, read_bounded, set_aside
from scribe.studio.document import MAX_BYTES, Document

FORMAT_VERSION = 2
"""2: change logs hold line edits (`LineEdit`) and the entry names the newline they split the text at."""
NEWLINES = ("\n", "\r\n", "\r")
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
    newline: str = "\n"
    """What separates the text's lines (the change log's edits address lines split at it)."""

    @property
    def untitled(self) -> bool:
        """True for an entry of a document that was never saved."""
        return self.path is None

    def to_dict(self) -> dict[str, Any]:
        """The JSON record."""
        return {"version": FORMAT_VERSION, "key": self.key, "path": self.path, "text": self.text,
                "saved_at": self.saved_at, "disk_hash": self.disk_hash, "log": self.log, "newline": self.newline}


@dataclass(frozen=True)
class LineEdit:
    """Lines `row` to `row + removed` (not included) of a text replaced by `lines`."""

    row: int
    removed: int
    lines: list[str]

    def apply(self, lines: list[str]) -> None:
        """Make this edit in `lines` (in place); ValueError when it does not fit."""
        if self.row + self.removed > len(lines):
            raise ValueError(f"an edit of lines {self.row}-{self.row + self.removed} does not fit {len(lines)} lines")
        lines[self.row:self.row + self.removed] = self.lines

    def to_json(self) -> list[Any]:
        """The edit as a JSON value."""
        return [self.row, self.removed, self.lines]

    @classmethod
    def from_json(cls, value: Any) -> LineEdit:
        """The edit `to_json` wrote; ValueError when `value` is not one."""
        if not (isinstance(value, list) and len(value) == 3 and isinstance(value[2], list)
                and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value[:2])
                and all(isinstance(line, str) for line in value[2])):
            raise ValueError("an edit of the wrong shape")
        return cls(value[0], value[1], value[2])

    @classmethod
    def between(cls, old: list[str], new: list[str]) -> LineEdit:
        """The single range of lines where `new` differs from `old` (their common first and last lines kept)."""
        shortest = min(len(old), len(new))
        start = _common_length(old, new, shortest, from_end=False)
        end = _common_length(old, new, shortest - start, from_end=True)
        return cls(row=start, removed=len(old) - start - end, lines=new[start:len(new) - end])


class LineChanges:
    """The edits an editor made since they were last taken, in order; an edit touching the last one's lines is
    merged into it (typing in one place makes one edit of the lines typed in, however many keys). Not thread-safe:
    the editor's thread records and takes."""

    def __init__(self) -> None:
        self._edits: list[LineEdit] = []

    def record(self, lines: list[str], row: int, removed: int, added: int) -> None:
        """Note that `removed` lines at `row` became `added` lines, now `lines[row:row + added]` (call after the
        edit, with the edited lines)."""
        if self._edits:
            last = self._edits[-1]
            end = last.row + len(last.lines)
            if row <= end and row + removed >= last.row:  # overlapping or touching: one edit of the union
                start, stop = min(last.row, row), max(end, row + removed)
                self._edits[-1] = LineEdit(start, stop - len(last.lines) + last.removed - start,
                                           lines[start:stop - removed + added])
                return
        self._edits.append(LineEdit(row, removed, lines[row:row + added]))

    def take(self) -> list[LineEdit]:
        """The edits recorded since the last take (then forgotten)."""
        edits, self._edits = self._edits, []
        return edits


ESCAPE_CHUNK = 1 << 20
"""Characters of text JSON-escaped in one call: each call holds the interpreter's lock, so a long text is escaped in
pieces and the editor's thread runs between them (one `json.dumps` of a 50 MB text would stall every other thread
for a second)."""


def _text_pieces(text: str) -> Iterator[str]:
    """`text` a piece of `ESCAPE_CHUNK` characters at a time."""
    for start in range(0, len(text), ESCAPE_CHUNK):
        yield text[start:start + ESCAPE_CHUNK]


def _line_pieces(lines: Sequence[str], newline: str, group: int = 5_000) -> Iterator[str]:
    """`newline.join(lines)` a group of lines at a time (the pieces, concatenated, are the text). A group of 5,000
    lines of prose is about 150 kB, which `json.dumps` escapes in about a millisecond: the editor's thread waits
    that long at most for the interpreter's lock while a worker writes a base (20,000-line groups raised the echo's p99
    on a 50 MB document by about 10 ms)."""
    for start in range(0, len(lines), group):
        piece = newline.join(lines[start:start + group])
        yield piece if start == 0 else newline + piece


def _text_length(lines: Sequence[str], newline: str, group: int = 50_000) -> int:
    """`len(newline.join(lines))`, counted a group of lines at a time (one `sum` over millions of lines would hold
    the interpreter's lock for tens of milliseconds)."""
    total = sum(sum(map(len, lines[start:start + group])) for start in range(0, len(lines), group))
    return total + len(newline) * max(len(lines) - 1, 0)


def same_text(lines: Sequence[str], newline: str, text: str) -> bool:
    """`newline.join(lines) == text`, compared a group of lines at a time (the lines are never joined whole)."""
    offset = 0
    for piece in _line_pieces(lines, newline):
        if text[offset:offset + len(piece)] != piece:
            return False
        offset += len(piece)
    return offset == len(text)


def join_lines(lines: Sequence[str], newline: str, group: int = 20_000) -> str:
    """`newline.join(lines)` in groups of lines, so that no single call holds the interpreter's lock for long."""
    if len(lines) <= group:
        return newline.join(lines)
    return newline.join(newline.join(lines[start:start + group]) for start in range(0, len(lines), group))


def _common_length(old: Sequence[str], new: Sequence[str], limit: int, *, from_end: bool) -> int:
    """How many items (at most `limit`) `old` and `new` share at their start (or end), compared in halving blocks so
    that a long common part costs a few block comparisons, not one step per item."""
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

    def write(self, key: str, text: str, *, path: Path | None, disk_hash: str | None,
              newline: str = "\n") -> JournalEntry:
        """Journal `text` for `key` as a fresh base (atomically, fsynced) with an empty change log, whose edits will
        address the text's lines split at `newline`; return the entry."""
        entry = JournalEntry(key=key, path=str(path) if path else None, text=text, saved_at=time.time(),
                             disk_hash=disk_hash, log=uuid.uuid4().hex[:16], newline=newline)
        self._write_base(entry, _text_pieces(text))
        return entry

    def write_lines(self, key: str, lines: Sequence[str], newline: str, *, path: Path | None,
                    disk_hash: str | None) -> str:
        """`write` for the text `newline.join(lines)`, escaped and written a group of lines at a time (the text is
        never joined whole); the new log's id."""
        entry = JournalEntry(key=key, path=str(path) if path else None, text="", saved_at=time.time(),
                             disk_hash=disk_hash, log=uuid.uuid4().hex[:16], newline=newline)
        self._write_base(entry, _line_pieces(lines, newline))
        return entry.log or ""

    def _write_base(self, entry: JournalEntry, pieces: Iterator[str]) -> None:
        """Write `entry` with the text `pieces` make (each JSON-escaped on its own), then remove its older logs."""
        record = entry.to_dict()
        del record["text"]
        head = json.dumps(record, ensure_ascii=False)
        self.root.mkdir(parents=True, exist_ok=True)
        with atomic_writer(self.entry_file(entry.key), new_mode=0o600) as handle:
            handle.write(head[:-1].encode("utf-8") + b', "text": "')
            for piece in pieces:
                handle.write(json.dumps(piece, ensure_ascii=False)[1:-1].encode("utf-8"))
            handle.write(b'"}')
        self._remove_logs(entry.key, keep=entry.log)

    def append(self, key: str, log: str, edits: list[LineEdit], rows: int) -> int:
        """Append one autosave's `edits` (in order), after which the text has `rows` lines, to `key`'s change log
        `log` as one line (fsynced); the bytes written."""
        record = {"edits": [edit.to_json() for edit in edits], "rows": rows, "t": time.time()}
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
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

    It keeps the text last given as a list of lines: the editor's (`track`, then `queue` its edits from the editor's
    thread and `write_queued` in a worker), or one given whole (`save`). `version` is the editor's edit counter when
    the text or the edits were taken; a write taken before the last `clear` is dropped, so an autosave still running
    when the writer saves cannot resurrect the entry.
    """

    def __init__(self, journal: Journal, key: str, document: Document) -> None:
        self.journal = journal
        self.key = key
        self.document = document
        self._lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queued: list[tuple[list[LineEdit], int]] = []
        self._lines: list[str] | None = None
        """The text as last given, split at `_newline` (None: nothing given yet)."""
        self._newline = "\n"
        self._length: int | None = None
        """The length of the text in `_lines`, newlines included (None: not counted yet)."""
        self._unwritten: list[LineEdit] = []
        """Edits made to `_lines` since the last write (kept only while a base is on disk to append them to)."""
        self._changed = False
        """True when `_lines` changed since the last write or the last finding that it equals the file."""
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

    def track(self, lines: list[str], newline: str) -> None:
        """Start from an editor's text, `lines` joined by `newline` (a copy of the list is kept: the strings are
        shared); its later edits come through `queue`. Call whenever the editor loads a new text."""
        with self._lock:
            with self._queue_lock:
                self._queued = []
            self._use(list(lines), newline)

    def _use(self, lines: list[str], newline: str) -> None:
        self._lines, self._newline, self._length, self._changed = lines, newline, None, True
        self._unwritten = []
        self._base = None

    def queue(self, edits: list[LineEdit], version: int) -> None:
        """Hand over the tracked editor's edits since the last call (cheap: the editor's thread calls it); the text
        after them is the editor's at `version`. `write_queued` applies and journals them."""
        with self._queue_lock:
            self._queued.append((edits, version))

    def write_queued(self) -> bool:
        """Apply the queued edits and journal the text (see `save`); True if written."""
        with self._lock:
            with self._queue_lock:
                queued, self._queued = self._queued, []
            if not queued:
                return False
            if self._lines is None:
                raise RuntimeError("edits queued for an autosaver that tracks no text")
            for edits, _ in queued:
                for edit in edits:
                    self._apply(edit)
            return self._write(queued[-1][1])

    def save(self, text: str, version: int) -> bool:
        """Journal `text` if it is newer than the last clear, unsaved and not yet journalled; True if written.

        Text equal to the file on disk removes the entry instead.
        """
        with self._lock:
            if self.up_to_date(version):
                return False
            if self._lines is None:
                self._use(text.split(self._newline), self._newline)
            else:
                edit = LineEdit.between(self._lines, text.split(self._newline))
                if edit.removed or edit.lines:
                    self._apply(edit)
            return self._write(version)

    def _apply(self, edit: LineEdit) -> None:
        assert self._lines is not None
        removed = self._lines[edit.row:edit.row + edit.removed]
        edit.apply(self._lines)
        if self._length is not None:
            self._length += (sum(map(len, edit.lines)) - sum(map(len, removed))
                             + len(self._newline) * (len(edit.lines) - len(removed)))
        self._changed = True
        if self._base is not None:
            self._unwritten.append(edit)

    def _write(self, version: int) -> bool:
        assert self._lines is not None
        if self.up_to_date(version) or not self._changed:
            return False
        if self._length is None:
            self._length = _text_length(self._lines, self._newline)
        if self._length == len(self.document.saved_text) and same_text(self._lines, self._newline,
                                                                         self.document.saved_text):
            if self._base is not None:
                self.journal.clear(self.key)
                self._base = None
            self._unwritten, self._changed = [], False
            return False
        where = (str(self.document.path) if self.document.path else None, self.document.disk_hash)
        if self._base is None or self._base[1:] != where or self.compact_due(self._length):
            log = self.journal.write_lines(self.key, self._lines, self._newline, path=self.document.path,
                                           disk_hash=self.document.disk_hash)
            self.bytes_written += self.journal.entry_file(self.key).stat().st_size
            self._base, self._log_records, self._log_bytes = (log, *where), 0, 0
        else:
            try:
                written = self.journal.append(self.key, self._base[0], self._unwritten, len(self._lines))
            except OSError:
                self._base = None  # a line may be half written: the next autosave writes a fresh base instead
                raise
            self._log_records += 1
            self._log_bytes += written
            self.bytes_written += written
        self._unwritten, self._changed = [], False
        self._journalled_version = version
        return True

    def compact_due(self, length: int) -> bool:
        """True when the change log has grown enough that the next autosave should write a fresh base instead."""
        return self._log_records >= LOG_MAX_RECORDS or self._log_bytes > max(LOG_MIN_BYTES, length // 4)

    def _forget(self) -> None:
        self._journalled_version = -1
        self._base = None
        self._unwritten = []
        self._changed = True  # the entry is gone: the next autosave decides afresh

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
    newline = data.get("newline", "\n")
    if newline not in NEWLINES:
        raise ValueError("'newline' is not a newline")
    if log is not None and data.get("version") != FORMAT_VERSION:
        raise ValueError(f"a change log of format {data.get('version')!r}, not {FORMAT_VERSION}")
    return JournalEntry(key=data["key"], path=data["path"], text=data["text"], saved_at=float(data["saved_at"]),
                        disk_hash=data["disk_hash"], log=log, newline=newline)


def _replay(entry: JournalEntry, log_file: Path) -> JournalEntry:
    """`entry` with the whole lines of its change log applied; a last line cut short (a kill mid-append) is left out;
    ValueError when a whole line is damaged or does not fit."""
    try:
        data = read_bounded(log_file, MAX_ENTRY_BYTES, what="journal log")
    except FileNotFoundError:
        return entry
    except FileSafetyError as exc:
        raise ValueError(str(exc)) from None
    whole = data[:data.rfind(b"\n") + 1]
    if not whole:
        return entry
    lines, saved_at = entry.text.split(entry.newline), entry.saved_at
    for number, line in enumerate(whole.splitlines(), start=1):
        try:
            record = json.loads(line.decode("utf-8"))
            for edit in record["edits"]:
                LineEdit.from_json(edit).apply(lines)
            if record["rows"] != len(lines):
                raise ValueError(f"{len(lines)} lines, not {record['rows']}")
            saved_at = float(record["t"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{log_file.name} line {number}: {exc}") from None
    return replace(entry, text=join_lines(lines, entry.newline), saved_at=saved_at)


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
