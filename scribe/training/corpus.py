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
"""

from __future__ import annotations

import codecs
import glob
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

_START = re.compile(r"^\s*\*\*\*\s*START OF\b.*$", re.MULTILINE | re.IGNORECASE)
_END = re.compile(r"^\s*\*\*\*\s*END OF\b.*$", re.MULTILINE | re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n)+")
WRAPPED_LINE_CHARS = 55
"""Lines of a block (but its last) averaging at least this many characters mark it as hard-wrapped prose (the
threshold of documents wrapped at 70 columns; narrower ones get a lower one, down to MIN_WRAPPED_CHARS)."""
MIN_WRAPPED_CHARS = 45


_stage: tuple[str, float] | None = None


def set_stage(stage: str) -> None:
    """Say what data preparation is doing now (a job reports it every few seconds until training starts)."""
    global _stage
    _stage = (stage, _stage[1] if _stage else time.monotonic())


def stage() -> tuple[str, float] | None:
    """What data preparation is doing now and when it began (`time.monotonic()`); None before it began."""
    return _stage


class EmptyCorpus(ValueError):
    """No usable text was found in the given paths."""


@dataclass(frozen=True)
class Document:
    """One file's text, decoded and cleaned."""

    path: Path
    text: str
    encoding: str = "utf-8"
    """How the file was decoded: utf-8, utf-8-sig, utf-16, or a legacy code page such as cp1252."""


@dataclass(frozen=True)
class Skipped:
    """A file that was not used, and why."""

    path: Path
    reason: str


@dataclass
class Corpus:
    """The documents read, and the files skipped."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def characters(self) -> int:
        """Total characters over all documents."""
        return sum(len(d.text) for d in self.documents)


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


def decode(data: bytes) -> str:
    """Bytes to text (`decode_named` without the encoding's name)."""
    return decode_named(data)[0]


def decode_named(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-16 when it starts with a UTF-16 BOM, else UTF-8 (`utf-8-sig` when a BOM is stripped),
    else the legacy encoding charset-normalizer detects. Raises ValueError for binary data (a NUL byte anywhere) and
    UnicodeDecodeError for bytes no encoding explains."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ValueError(f"binary file (a NUL byte at offset {nul:,}); give plain-text files")
    try:
        return data.decode("utf-8-sig"), "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8"
    except UnicodeDecodeError as exc:
        legacy = detect_legacy(data)
        if legacy is None:
            raise exc from None
        return data.decode(legacy), legacy


def detect_legacy(data: bytes) -> str | None:
    """The single-byte or legacy multi-byte encoding charset-normalizer finds for `data` (None: none fits, or the
    detector is not installed)."""
    try:
        from charset_normalizer import from_bytes
    except ImportError:
        return None
    matches = from_bytes(data[:1_000_000])
    best = matches.best()
    if best is not None:  # among equally good guesses, prefer the most common legacy encoding of Western text
        tied = [m for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
        best = next((m for m in tied if m.encoding == "cp1252"), best)
    if best is None or best.encoding.replace("-", "_").startswith(("utf_8", "ascii")):
        return None
    try:
        text = data.decode(best.encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    return "cp1252" if _same_in_cp1252(data, text) else best.encoding


def _same_in_cp1252(data: bytes, text: str) -> bool:
    """Whether Windows-1252 reads `data` as `text`: then the text is Western (its only non-ASCII bytes are the smart
    quotes, dashes and symbols most code pages share), and cp1252 is its most likely source."""
    try:
        return data.decode("cp1252") == text
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


def wrap_threshold(blocks: list[list[str]]) -> float:
    """The average line length from which a document's blocks count as wrapped (module docstring)."""
    lengths = sorted(len(line) for lines in blocks if len(lines) > 1 for line in dedented(lines))
    if not lengths:
        return WRAPPED_LINE_CHARS
    width = lengths[min(len(lengths) - 1, int(0.95 * len(lengths)))]
    return max(MIN_WRAPPED_CHARS, min(WRAPPED_LINE_CHARS, 0.8 * width))


def join_paragraph(lines: list[str]) -> str:
    """The lines of one wrapped paragraph as one line: joined by a space, or by nothing after a hyphen or dash."""
    out = lines[0].strip()
    for line in lines[1:]:
        line = line.strip()
        out += line if out.endswith(("-", "\u2014", "\u2013")) else " " + line
    return out


def unwrap(text: str) -> str:
    """`text` with its hard-wrapped paragraphs joined into single lines; paragraphs stay separated by one blank line,
    and blocks that are not wrapped prose keep their line breaks."""
    blocks = [[line.rstrip() for line in b.split("\n")] for b in _BLANK_LINES.split(text.strip("\n")) if b.strip()]
    threshold = wrap_threshold(blocks)
    return "\n\n".join(join_paragraph(lines) if is_wrapped_prose(lines, threshold) else "\n".join(lines)
                       for lines in blocks)


def clean(text: str, *, gutenberg: bool = True, join_lines: bool = False) -> str:
    """Normalise line endings to LF, optionally strip the Gutenberg header/footer and join hard-wrapped lines
    (`unwrap`), trim surrounding blank space."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if gutenberg:
        text = gutenberg_body(text)
    if join_lines:
        text = unwrap(text)
    return text.strip() + "\n" if text.strip() else ""


def read_document(path: Path, *, strip_gutenberg: bool = True, join_lines: bool = False) -> Document | Skipped:
    """One file as a Document, or a Skipped with the reason."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return Skipped(path, f"cannot read: {exc.strerror or exc}")
    if not data:
        return Skipped(path, "empty file")
    try:
        text, encoding = decode_named(data)
    except UnicodeDecodeError as exc:
        return Skipped(path, f"not text in UTF-8 or a detectable legacy encoding (undecodable byte at offset {exc.start})")
    except ValueError as exc:
        return Skipped(path, str(exc))
    text = clean(text, gutenberg=strip_gutenberg, join_lines=join_lines)
    if not text:
        return Skipped(path, "no text")
    return Document(path, text, encoding)


def read_corpus(paths: Iterable[str | Path], *, strip_gutenberg: bool = True, join_lines: bool = False) -> Corpus:
    """Read every file named by `paths` (`join_lines`: undo hard wrapping, see `unwrap`). Raises EmptyCorpus when
    none holds usable text."""
    files, missing = expand_paths(paths)
    corpus = Corpus(skipped=list(missing))
    for number, path in enumerate(files, 1):
        set_stage(f"reading {path.name} (file {number} of {len(files)})")
        item = read_document(path, strip_gutenberg=strip_gutenberg, join_lines=join_lines)
        (corpus.documents if isinstance(item, Document) else corpus.skipped).append(item)
    if not corpus.documents:
        detail = "; ".join(f"{s.path}: {s.reason}" for s in corpus.skipped[:5])
        raise EmptyCorpus(f"no usable text in the corpus{': ' + detail if detail else ''}")
    return corpus
