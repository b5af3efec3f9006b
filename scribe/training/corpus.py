"""Reading a training corpus: files, folders and globs of plain text.

Text is decoded as UTF-8 (a BOM is stripped; UTF-16 is read when it starts with its BOM), else in the legacy encoding
charset-normalizer detects (cp1252, cp1251, ...; a text that Windows-1252 decodes to the same characters as the
detected code page, such as English with smart quotes and dashes, is named cp1252, not cp1250); a NUL byte anywhere
marks a file binary. Each Document records its encoding (the model card lists it). Line endings are normalised to LF
and, by default, the Project Gutenberg header and footer (everything outside the `*** START OF` / `*** END OF` marker
lines) is removed. Files that are binary, undecodable or empty are skipped and reported, never fatal.

`join_lines=True` undoes hard wrapping (`unwrap`): Project Gutenberg texts break lines at about 70 columns, and a
model trained on them learns to emit those breaks. The rule works on paragraphs, the blocks between blank lines
(blank-line paragraph breaks are kept, as one blank line):

- the block's common indentation is set aside (some books indent every line);
- a block is *wrapped prose* when it has two or more lines, none but the first indented further (by two or more
  spaces or a tab; one space, as where a wrap fell inside a sentence gap, does not count), none with a run of
  four spaces inside it (a table's columns), and its lines other
  than the last average at least the document's threshold: 80 % of its typical line width (the 95th percentile of
  line lengths), kept between MIN_WRAPPED_CHARS and WRAPPED_LINE_CHARS, so books wrapped narrower than 70 columns
  are recognised too; its lines are joined with one space (with no space after a line ending in a hyphen or dash,
  `to-` + `morrow`, `word--` + `word`), the first line's indentation dropped;
- any other block (verse, lists, headings, tables, indented quotations, play speakers' names) keeps its line breaks.

Files are read in chunks, never whole: a first pass finds the encoding (and a NUL byte), a second the Gutenberg
markers, a third (with `join_lines`) the document's wrap threshold, and the last decodes and cleans the text in
paragraph-aligned pieces. `read_corpus` joins the pieces into in-memory Documents; `store_corpus` writes them to one
UTF-8 file on disk and returns StoredDocuments (byte ranges of it), so a corpus of any size is prepared in bounded
memory. Both give the same text: `clean` on the whole file is the reference the pieces are tested against.
"""

from __future__ import annotations

import codecs
import glob
import hashlib
import os
import re
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import BinaryIO, Callable, Generic, Iterable, Iterator, TypeVar, Union

from scribe.files import FileSafetyError, open_regular
from scribe.training.allocator import release_free_memory

_START = re.compile(r"^\s*\*\*\*\s*START OF\b.*$", re.MULTILINE | re.IGNORECASE)
_END = re.compile(r"^\s*\*\*\*\s*END OF\b.*$", re.MULTILINE | re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n)+")
WRAPPED_LINE_CHARS = 55
"""Lines of a block (but its last) averaging at least this many characters mark it as hard-wrapped prose (the
threshold of documents wrapped at 70 columns; narrower ones get a lower one, down to MIN_WRAPPED_CHARS)."""
MIN_WRAPPED_CHARS = 45
READ_BYTES = 1 << 18
"""Bytes read from a file at a time (what a piece of text in preparation costs in memory is a few dozen times this,
whatever the corpus size: see tests/reliability/test_corpus_streaming.py)."""
_DETECT_BYTES = 1_000_000
"""How much of a file's beginning charset-normalizer sees."""
PIECE_CHARS = 16_000
"""About how many characters a Document's `pieces` gives at a time (what the tokenizer gets in one call; with 64,000
the `tokenizers` library held about 14 MB while tokenising, with 16,000 about 6 MB, and it was faster: see
bench/corpus_memory.py)."""
_LINE_LIMIT = 8 * READ_BYTES
"""A line longer than this many characters is cut (at a space where it can be) instead of being held whole."""
_PIECE_CUT = (re.compile(r"(?<=\S)\n(?=\S)"), re.compile(r"(?<=\S)(?= \S)"))
"""Where pieces of text are cut, best first: after a line break, else before a space, each between two characters
that are not blank space. A GPT-2-style pre-tokenizer (and scribe's word tokenizer) ends a token there and starts
the next one the same way whether the text goes on or not, so the pieces' tokens are the whole text's; a cut beside
more blank space would not be (a trailing `\n\n` is one token, `\n` + `\n` before a word two)."""


_stage: tuple[str, float] | None = None


def set_stage(stage: str) -> None:
    """Say what data preparation is doing now (a job reports it every few seconds until training starts)."""
    global _stage
    _stage = (stage, _stage[1] if _stage else time.monotonic())


def character_count(count: int, total: int | None = None) -> str:
    """A count of characters for progress lines, "12,345 characters" or "2.5 million characters"; with `total`,
    "12,345 of 60,000 characters", both in the unit the total needs."""
    big = (count if total is None else total) >= 1_000_000

    def number(n: int) -> str:
        return f"{n / 1e6:,.1f}" if big else f"{n:,}"

    unit = "million characters" if big else "characters"
    return f"{number(count)} {unit}" if total is None else f"{number(count)} of {number(total)} {unit}"


def stage() -> tuple[str, float] | None:
    """What data preparation is doing now and when it began (`time.monotonic()`); None before it began."""
    return _stage


class EmptyCorpus(ValueError):
    """No usable text was found in the given paths."""


def text_hash(text: str) -> str:
    """The cache key of a piece of text (the sha256 of its UTF-8, 32 hex digits)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True)
class Document:
    """One file's text, decoded and cleaned, held in memory."""

    path: Path
    text: str
    encoding: str = "utf-8"
    """How the file was decoded: utf-8, utf-8-sig, utf-16, or a legacy code page such as cp1252."""

    @property
    def characters(self) -> int:
        """The text's length in characters."""
        return len(self.text)

    @property
    def digest(self) -> str:
        """`text_hash` of the text (what caches are keyed by)."""
        return text_hash(self.text)

    def pieces(self, size: int = PIECE_CHARS) -> Iterator[str]:
        """The text in pieces of about `size` characters, cut where no token spans the cut (`_PIECE_CUT`)."""
        return cut_pieces(iter((self.text,)), size)


@dataclass(frozen=True)
class StoredDocument:
    """One file's text, decoded and cleaned, kept on disk: the UTF-8 bytes `start:stop` of `store`."""

    path: Path
    store: Path
    start: int
    stop: int
    characters: int
    """The text's length in characters."""
    encoding: str = "utf-8"

    @cached_property
    def digest(self) -> str:
        """`text_hash` of the text, read from the store (the same key as the in-memory Document's)."""
        digest = hashlib.sha256()
        for data in self._bytes():
            digest.update(data)
        return digest.hexdigest()[:32]

    def pieces(self, size: int = PIECE_CHARS) -> Iterator[str]:
        """The text read from the store in pieces of about `size` characters (cut as `Document.pieces` cuts)."""
        decoder = codecs.getincrementaldecoder("utf-8")("surrogatepass")
        return cut_pieces((decoder.decode(data) for data in self._bytes()), size)

    def span(self, start: int, stop: int, characters: int) -> "StoredDocument":
        """The part of the store between the byte offsets `start` and `stop`, which holds `characters` characters."""
        return replace(self, start=start, stop=stop, characters=characters)

    def _bytes(self) -> Iterator[bytes]:
        with open(self.store, "rb") as handle:
            handle.seek(self.start)
            left = self.stop - self.start
            while left > 0:
                data = handle.read(min(READ_BYTES, left))
                if not data:
                    raise OSError(f"{self.store}: shorter than expected (the prepared text was changed)")
                left -= len(data)
                yield data


Text = Union[Document, StoredDocument]
"""A document, in memory or on disk: both have `path`, `encoding`, `characters`, `digest` and `pieces()`."""


def cut_pieces(stream: Iterator[str], size: int, *, exact: bool = False) -> Iterator[str]:
    """The text of `stream` again, in pieces of `size` to `2 * size` characters, each cut where `_PIECE_CUT` finds
    a place, else at `2 * size` (no text is lost or added). With `exact` a piece is only ever cut at such a place, so
    that it tokenises as the whole text does: where none comes (text with no blank space, as Chinese may be) the piece
    grows until one does."""
    buffer, pos, searched = "", 0, 0
    for text in stream:
        buffer, pos, searched = buffer[pos:] + text, 0, max(0, searched - pos)
        while len(buffer) - pos >= 2 * size:
            end = len(buffer) if exact else pos + 2 * size
            found = (pattern.search(buffer, max(pos + size, searched), end) for pattern in _PIECE_CUT)
            cut = next((m.end() for m in found if m is not None), None if exact else end)
            if cut is None:  # a place may still come at the end, once the next character is known
                searched = len(buffer) - 1
                break
            yield buffer[pos:cut]
            pos = searched = cut
    if pos < len(buffer):
        yield buffer[pos:]


def cut_everywhere(text: str) -> list[str]:
    """`text` cut at every place where `cut_pieces` may cut it (to try a tokenizer on)."""
    places = sorted({m.end() for pattern in _PIECE_CUT for m in pattern.finditer(text)} - {0})
    return [text[a:b] for a, b in zip([0, *places], [*places, len(text)])]


@dataclass(frozen=True)
class Skipped:
    """A file that was not used, and why."""

    path: Path
    reason: str


D = TypeVar("D", Document, StoredDocument, Text)


@dataclass
class Corpus(Generic[D]):
    """The documents read (in memory from `read_corpus`, on disk from `store_corpus`), and the files skipped."""

    documents: list[D] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def characters(self) -> int:
        """Total characters over all documents."""
        return sum(d.characters for d in self.documents)


def expand_paths(paths: Iterable[str | Path]) -> tuple[list[Path], list[Skipped]]:
    """Files named by `paths` (files, folders searched recursively, glob patterns), sorted and deduplicated per
    argument, plus the arguments that matched nothing."""
    files: list[Path] = []
    missing: list[Skipped] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            found = [path]
        else:
            found = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
        if not found:
            missing.append(Skipped(path, "no such file, or nothing matched"))
        files.extend(p for p in found if p not in files)
    return files, missing


def _chunks(path: Path) -> Iterator[bytes]:
    """The bytes of the regular file at `path`, READ_BYTES at a time (FileSafetyError for a fifo, device, ...)."""
    handle: BinaryIO
    with open_regular(path, "corpus file") as handle:
        while data := handle.read(READ_BYTES):
            yield data


def sniff_encoding(path: Path) -> str:
    """How the file is decoded, read in chunks: utf-16 when it starts with a UTF-16 BOM, else utf-8 (`utf-8-sig`
    when it starts with a BOM), else the legacy encoding `detect_legacy` finds. Raises ValueError for binary data (a
    NUL byte anywhere) and UnicodeDecodeError for bytes no encoding explains."""
    utf8 = codecs.getincrementaldecoder("utf-8")()
    head, offset, bad = b"", 0, None
    for data in _chunks(path):
        if not offset and data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        if len(head) < _DETECT_BYTES:
            head += data[: _DETECT_BYTES - len(head)]
        nul = data.find(b"\x00")
        if nul >= 0:
            raise ValueError(f"binary file (a NUL byte at offset {offset + nul:,}); give plain-text files")
        if bad is None:
            try:
                utf8.decode(data)
            except UnicodeDecodeError as exc:
                exc.start += offset
                bad = exc
        offset += len(data)
    if bad is None:
        try:
            utf8.decode(b"", True)
        except UnicodeDecodeError as exc:
            bad = exc
    if bad is None:
        return "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    legacy = detect_legacy(head, lambda: _chunks(path))
    if legacy is None:
        raise bad
    return legacy


def detect_legacy(head: bytes, chunks=None) -> str | None:  # noqa: ANN001 - Callable[[], Iterable[bytes]]
    """The single-byte or legacy multi-byte encoding charset-normalizer finds in `head` (a file's first bytes) that
    decodes every chunk of the whole file (`chunks()`, default just `head`); None: none fits, or the detector is not
    installed. A text that Windows-1252 reads as the same characters is named cp1252."""
    try:
        from charset_normalizer import from_bytes
    except ImportError:
        return None
    matches = from_bytes(head[:_DETECT_BYTES])
    best = matches.best()
    if best is not None:  # among equally good guesses, prefer the most common legacy encoding of Western text
        tied = [m for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
        best = next((m for m in tied if m.encoding == "cp1252"), best)
    if best is None or best.encoding.replace("-", "_").startswith(("utf_8", "ascii")):
        return None
    try:
        guess = codecs.getincrementaldecoder(best.encoding)()
    except LookupError:
        return None
    western: codecs.IncrementalDecoder | None = codecs.getincrementaldecoder("cp1252")()
    for data in (chunks() if chunks is not None else (head,)):
        try:
            text = guess.decode(data)
        except UnicodeDecodeError:
            return None
        western = western if western is not None and _same_in_cp1252(western, data, text) else None
    try:
        rest = guess.decode(b"", True)
    except UnicodeDecodeError:
        return None
    return "cp1252" if western is not None and not rest else best.encoding


def _same_in_cp1252(decoder: codecs.IncrementalDecoder, data: bytes, text: str) -> bool:
    """Whether Windows-1252 reads `data` as `text`: then the text is Western (its only non-ASCII bytes are the smart
    quotes, dashes and symbols most code pages share), and cp1252 is its most likely source."""
    try:
        return decoder.decode(data) == text
    except UnicodeDecodeError:
        return False


def gutenberg_body(text: str) -> str:
    """The text between the Project Gutenberg `*** START OF` and `*** END OF` lines (either may be absent)."""
    start = _START.search(text)
    if start:
        text = text[start.end():]
    end = _END.search(text)
    if end:
        text = text[: end.start()]
    return text


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def dedented(lines: list[str]) -> list[str]:
    """The lines without the indentation (spaces, tabs) they all share."""
    indent = min((_indent(line) for line in lines if line.strip()), default=0)
    return [line[indent:] for line in lines]


def is_wrapped_prose(lines: list[str], threshold: float = WRAPPED_LINE_CHARS) -> bool:
    """Whether a paragraph's lines are hard-wrapped prose (the module docstring gives the rule)."""
    lines = dedented(lines)
    if len(lines) < 2 or any(line[:1] == "\t" or _indent(line) >= 2 for line in lines[1:]) \
            or any("    " in line.strip() for line in lines):
        return False
    body = lines[:-1]
    return sum(len(line) for line in body) / len(body) >= threshold


def _count_line_lengths(blocks: list[list[str]], counts: Counter[int]) -> Counter[int]:
    """`counts` plus the lengths of the (dedented) lines of every block of two or more lines."""
    counts.update(len(line) for lines in blocks if len(lines) > 1 for line in dedented(lines))
    return counts


def _threshold(counts: Counter[int]) -> float:
    """The wrap threshold from the line-length counts of a document's blocks (module docstring)."""
    total = sum(counts.values())
    if not total:
        return WRAPPED_LINE_CHARS
    rank, seen = min(total - 1, int(0.95 * total)), 0
    for length in sorted(counts):
        seen += counts[length]
        if seen > rank:
            return max(MIN_WRAPPED_CHARS, min(WRAPPED_LINE_CHARS, 0.8 * length))
    raise AssertionError("unreachable: the rank is below the total")


def wrap_threshold(blocks: list[list[str]]) -> float:
    """The average line length from which a document's blocks count as wrapped (module docstring)."""
    return _threshold(_count_line_lengths(blocks, Counter()))


def join_paragraph(lines: list[str]) -> str:
    """The lines of one wrapped paragraph as one line: joined by a space, or by nothing after a hyphen or dash."""
    out = lines[0].strip()
    for line in lines[1:]:
        line = line.strip()
        out += line if out.endswith(("-", "\u2014", "\u2013")) else " " + line
    return out


def _blocks(text: str) -> list[list[str]]:
    """The paragraphs of `text` (blocks between blank lines, blank-only ones dropped) as lists of right-trimmed lines."""
    return [[line.rstrip() for line in b.split("\n")] for b in _BLANK_LINES.split(text.strip("\n")) if b.strip()]


def _unwrap_blocks(blocks: list[list[str]], threshold: float) -> str:
    return "\n\n".join(join_paragraph(lines) if is_wrapped_prose(lines, threshold) else "\n".join(lines)
                       for lines in blocks)


def unwrap(text: str) -> str:
    """`text` with its hard-wrapped paragraphs joined into single lines; paragraphs stay separated by one blank line,
    and blocks that are not wrapped prose keep their line breaks."""
    blocks = _blocks(text)
    return _unwrap_blocks(blocks, wrap_threshold(blocks))


def clean(text: str, *, gutenberg: bool = True, join_lines: bool = False) -> str:
    """Normalise line endings to LF, optionally strip the Gutenberg header/footer and join hard-wrapped lines
    (`unwrap`), trim surrounding blank space. (The whole text at once: `cleaned` gives the same in pieces.)"""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if gutenberg:
        text = gutenberg_body(text)
    if join_lines:
        text = unwrap(text)
    return text.strip() + "\n" if text.strip() else ""


def _decoded(path: Path, encoding: str) -> Iterator[str]:
    """The file's text, decoded a chunk at a time, line endings normalised to LF (a CR at a chunk's end waits)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig" if encoding.startswith("utf-8") else encoding)()
    carry = ""
    chunks = _chunks(path)
    while True:
        data = next(chunks, None)
        text = carry + decoder.decode(data or b"", data is None)
        carry = "\r" if data is not None and text.endswith("\r") else ""
        text = (text[:-1] if carry else text).replace("\r\n", "\n").replace("\r", "\n")
        if text:
            yield text
        if data is None:
            return


def _lines(stream: Iterator[str]) -> Iterator[str]:
    """The text of `stream` in pieces that end at a line end (a line over _LINE_LIMIT characters is cut, before a
    space where it has one)."""
    buffer = ""
    for text in stream:
        buffer += text
        end = buffer.rfind("\n") + 1
        if not end and len(buffer) > _LINE_LIMIT:
            end = buffer.rfind(" ", 0, _LINE_LIMIT) + 1 or _LINE_LIMIT
        if end:
            yield buffer[:end]
            buffer = buffer[end:]
    if buffer:
        yield buffer


def _body_bounds(path: Path, encoding: str) -> tuple[int, int | None]:
    """The character offsets (of the decoded text) where the Gutenberg body begins and ends (`gutenberg_body`), found
    by reading the file once."""
    start: int | None = None
    first_end: int | None = None
    offset = 0
    blank_from = 0  # where the run of blank space up to the current position begins (a line start)
    for text in _lines(_decoded(path, encoding)):
        if start is None:
            found = _START.search(text)
            if found:
                start = blank_from = offset + found.end()
                first_end = None
        search_from = start - offset if start is not None and start >= offset else 0
        if first_end is None:
            end = _END.search(text, search_from)
            if end:
                first_end = offset + end.start() if end.start() else max(blank_from, start or 0)
                if start is not None:
                    break
        content = len(text.rstrip())
        if content:
            line_end = text.find("\n", content)
            blank_from = offset + (line_end + 1 if line_end >= 0 else len(text))
        offset += len(text)
    return start or 0, first_end


def _sliced(stream: Iterator[str], start: int, stop: int | None) -> Iterator[str]:
    """The characters `start:stop` of the text of `stream`."""
    offset = 0
    for text in stream:
        if stop is not None and offset >= stop:
            return
        piece = text[max(0, start - offset): None if stop is None else max(0, stop - offset)]
        offset += len(text)
        if piece:
            yield piece


def _paragraph_runs(stream: Iterator[str], size: int | None = None) -> Iterator[str]:
    """The text of `stream` in runs of whole paragraphs of about `size` characters or more, cut at blank-line
    separators, which are left out (so `_blocks` of the runs are `_blocks` of the whole text, and a paragraph longer
    than `size` (default READ_BYTES) is held whole)."""
    size = size or READ_BYTES
    buffer, scan_from = "", 0
    for text in stream:
        buffer += text
        if len(buffer) < size:
            continue
        last = None
        for found in _BLANK_LINES.finditer(buffer, scan_from):
            if found.end() < len(buffer):  # a separator at the end may go on in the next text
                last = found
        if last is not None:
            yield buffer[: last.start()]
            buffer = buffer[last.end():]
        scan_from = len(buffer.rstrip(" \t\n"))
    yield buffer


def _unwrapped(runs: Iterator[str], threshold: float) -> Iterator[str]:
    """`unwrap` of the whole text, given as paragraph runs."""
    first = True
    for run in runs:
        text = _unwrap_blocks(_blocks(run), threshold)
        if text:
            yield text if first else "\n\n" + text
            first = False


def _stripped(pieces: Iterator[str]) -> Iterator[str]:
    """The text of `pieces` without blank space around it, plus a final newline (nothing when it is all blank)."""
    started, pending = False, ""
    for piece in pieces:
        if not started:
            piece = piece.lstrip()
            if not piece:
                continue
            started = True
        body = piece.rstrip()
        if body:
            yield pending + body
            pending = piece[len(body):]
        else:
            pending += piece
    if started:
        yield "\n"


def cleaned(path: Path, encoding: str, *, gutenberg: bool = True, join_lines: bool = False) -> Iterator[str]:
    """`clean` of the file's text, read and given in pieces (paragraph runs where lines are joined): the passes over
    the file the module docstring lists, never the whole text in memory."""
    start, stop = _body_bounds(path, encoding) if gutenberg else (0, None)

    def body() -> Iterator[str]:
        return _sliced(_lines(_decoded(path, encoding)), start, stop)

    if not join_lines:
        return _stripped(body())
    counts: Counter[int] = Counter()
    for run in _paragraph_runs(body()):
        _count_line_lengths(_blocks(run), counts)
    return _stripped(_unwrapped(_paragraph_runs(body()), _threshold(counts)))


def _unreadable(exc: Exception) -> str:
    """Why a corpus file is skipped, in one line, for an error met while reading it."""
    if isinstance(exc, UnicodeDecodeError):
        return f"not text in UTF-8 or a detectable legacy encoding (undecodable byte at offset {exc.start})"
    if isinstance(exc, FileSafetyError) or not isinstance(exc, OSError):
        return str(exc)
    return f"cannot read: {exc.strerror or exc}"


_UNREADABLE = (OSError, ValueError)
"""What reading a corpus file may raise (UnicodeDecodeError and the binary-file refusal are ValueErrors)."""


def _open_text(path: Path, strip_gutenberg: bool, join_lines: bool) -> tuple[str, Iterator[str]] | Skipped:
    """(encoding, the cleaned text in pieces) of one corpus file, or a Skipped with the reason (the pieces may
    still raise one of _UNREADABLE while they are read)."""
    try:
        encoding = sniff_encoding(path)
        if path.stat().st_size == 0:
            return Skipped(path, "empty file")
        return encoding, cleaned(path, encoding, gutenberg=strip_gutenberg, join_lines=join_lines)
    except _UNREADABLE as exc:
        return Skipped(path, _unreadable(exc))


def read_document(path: Path, *, strip_gutenberg: bool = True, join_lines: bool = False) -> Document | Skipped:
    """One file as a Document (its text in memory), or a Skipped with the reason."""
    opened = _open_text(path, strip_gutenberg, join_lines)
    if isinstance(opened, Skipped):
        return opened
    encoding, pieces = opened
    try:
        text = "".join(pieces)
    except _UNREADABLE as exc:
        return Skipped(path, _unreadable(exc))
    return Document(path, text, encoding) if text else Skipped(path, "no text")


def _no_usable_text(corpus: Corpus) -> EmptyCorpus:
    detail = "; ".join(f"{s.path}: {s.reason}" for s in corpus.skipped[:5])
    return EmptyCorpus(f"no usable text in the corpus{': ' + detail if detail else ''}")


R = TypeVar("R")


@dataclass(frozen=True)
class Read(Generic[R]):
    """What `read_each` made of one file's cleaned text, and the file's path, length in characters and encoding."""

    path: Path
    value: R
    characters: int
    encoding: str = "utf-8"


class _Unreadable(Exception):
    """A corpus file failed while its pieces were read (`read_each`); `reason` says why, in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_each(paths: Iterable[str | Path], use: Callable[[Iterator[str]], R], *, strip_gutenberg: bool = True,
              join_lines: bool = False) -> tuple[list[Read[R]], list[Skipped]]:
    """`use` applied to each file's cleaned text (as `read_corpus` cleans it), given a piece at a time, so that
    nothing holds a whole file unless `use` does; `use` reads every piece. Returns a Read per file with text, and the
    files skipped (as `read_corpus` skips them, also when reading fails part way: `use`'s result is then dropped).
    Progress is reported with `set_stage`. Raises EmptyCorpus when no file holds text."""
    files, missing = expand_paths(paths)
    reads: list[Read[R]] = []
    skipped = list(missing)
    for number, path in enumerate(files, 1):
        name = f"reading {path.name} (file {number} of {len(files)})"
        set_stage(name)
        opened = _open_text(path, strip_gutenberg, join_lines)
        if isinstance(opened, Skipped):
            skipped.append(opened)
            continue
        encoding, pieces = opened
        count = [0]

        def counted(pieces: Iterator[str] = pieces, name: str = name, count: list[int] = count) -> Iterator[str]:
            while True:
                try:
                    piece = next(pieces, None)
                except _UNREADABLE as exc:
                    raise _Unreadable(_unreadable(exc)) from exc
                if piece is None:
                    return
                count[0] += len(piece)
                set_stage(f"{name}: {character_count(count[0])}")
                yield piece

        try:
            value = use(counted())
        except _Unreadable as exc:
            skipped.append(Skipped(path, exc.reason))
            continue
        if count[0]:
            reads.append(Read(path, value, count[0], encoding))
        else:
            skipped.append(Skipped(path, "no text"))
    if not reads:
        raise _no_usable_text(Corpus(skipped=skipped))
    return reads, skipped


def read_corpus(paths: Iterable[str | Path], *, strip_gutenberg: bool = True,
                join_lines: bool = False) -> Corpus[Document]:
    """Read every file named by `paths` into memory (`join_lines`: undo hard wrapping, see `unwrap`). Raises
    EmptyCorpus when none holds usable text. (`store_corpus` prepares a corpus of any size; `read_each` reads one
    without keeping its text.)"""
    reads, skipped = read_each(paths, "".join, strip_gutenberg=strip_gutenberg, join_lines=join_lines)
    return Corpus([Document(r.path, r.value, r.encoding) for r in reads], skipped)


def store_corpus(paths: Iterable[str | Path], store: Path, *, strip_gutenberg: bool = True,
                 join_lines: bool = False) -> Corpus[StoredDocument]:
    """Read and clean every file named by `paths` as `read_corpus` does, a piece at a time, into the UTF-8 file
    `store` (created or replaced; the caller removes it when done: `scratch_store` gives one): the documents are
    StoredDocuments, byte ranges of it. Memory stays bounded by a piece (a paragraph, with `join_lines`) whatever the
    corpus size; progress is reported with `set_stage`. Raises EmptyCorpus when no file holds usable text."""
    files, missing = expand_paths(paths)
    corpus: Corpus[StoredDocument] = Corpus(skipped=list(missing))
    with open(store, "wb") as out:
        for number, path in enumerate(files, 1):
            name = f"reading {path.name} (file {number} of {len(files)})"
            set_stage(name)
            item = _store_one(path, out, strip_gutenberg, join_lines, name)
            (corpus.documents if isinstance(item, StoredDocument) else corpus.skipped).append(item)
    release_free_memory()  # the text read is freed by now (a probe on 10 and 30 MB corpora: peak 3-4 MB lower)
    if not corpus.documents:
        raise _no_usable_text(corpus)
    return corpus


@contextmanager
def scratch_store(folder: Path) -> Iterator[Path]:
    """A file in `folder` for `store_corpus` to write, which nothing outlives: on Linux it is unlinked as soon as it is
    created and named `/proc/<pid>/fd/<n>` (this process and its children, such as `train_bpe`'s worker, open it by
    that name), so even a `kill -9` leaves nothing behind; elsewhere it is a hidden `.corpus-*` file removed when the
    block ends (only a killed process leaves it)."""
    fd, name = tempfile.mkstemp(dir=folder, prefix=".corpus-", suffix=".txt")
    named = Path(name)
    try:
        anonymous = Path(f"/proc/{os.getpid()}/fd/{fd}")
        try:
            unlinkable = os.path.samefile(anonymous, named)
        except OSError:
            unlinkable = False
        if unlinkable:
            named.unlink()
            yield anonymous
        else:
            os.close(fd)
            fd = -1
            yield named
    finally:
        if fd >= 0:
            os.close(fd)
        named.unlink(missing_ok=True)


def _store_one(path: Path, out: BinaryIO, strip_gutenberg: bool, join_lines: bool,
               stage_name: str) -> StoredDocument | Skipped:
    """Append one file's cleaned text to `out`: its StoredDocument, or a Skipped (nothing appended). The stage
    (`set_stage`) says `stage_name` and how much text is done."""
    opened = _open_text(path, strip_gutenberg, join_lines)
    if isinstance(opened, Skipped):
        return opened
    encoding, pieces = opened
    start, characters = out.tell(), 0
    while True:
        try:
            piece = next(pieces, None)
        except _UNREADABLE as exc:
            out.seek(start)
            out.truncate()
            return Skipped(path, _unreadable(exc))
        if piece is None:
            break
        out.write(piece.encode("utf-8", "surrogatepass"))
        characters += len(piece)
        set_stage(f"{stage_name}: {character_count(characters)}")
    if not characters:
        return Skipped(path, "no text")
    return StoredDocument(path, Path(out.name), start, out.tell(), characters, encoding)
