"""Textual's text documents made fast for long documents (tens of megabytes, millions of lines).

Textual's TextArea (pinned version) asks, for every line it draws, for the whole text (to decide whether to show its
placeholder: a join of every line). `FastDocument` joins it once per change: `Document.replace_range` is the only way
text changes (edits, undo and redo all call it). It also joins a range of lines at once where Textual adds them one
by one to a string (quadratic: a whole-text replace, as restoring a journal does, took minutes for 50 MB).

Textual's WrappedDocument keeps three Python objects per line and per screen row, rebuilt line by line (about 10 µs a
line) on every `wrap`, which the TextArea calls several times while it mounts: 17 s for one wrap of a 50 MB document.
`FastWrappedDocument` answers the same questions from two numpy arrays (each line's height in rows and, built when
asked, each line's first row) and keeps wrap offsets only for the lines that wrap or hold tabs; the others share one
empty list. A wrap finds those lines with array operations (a plain ASCII line fits when it is no longer than the
width), a wrap at the width and tab width it already has is skipped (edits keep it current through `wrap_range`), a
wrap at another width reuses what the one before learnt of the lines (plain ASCII without tabs, their lengths) when
no edit came between, and an edit re-wraps only its lines. `Editor` makes its documents of these kinds (`adopt`, `wrapped_document_class`).

The per-line wrap offsets and tab widths live in numpy object arrays, not lists: the garbage collector does not walk
a numpy array, and a list of a 50 MB document's 1.8 million lines took a young collection 100 ms to walk (twice per
wrap: once young, once middle-aged) and every full collection as long again.
"""

from __future__ import annotations

import operator
from itertools import islice, repeat
from typing import TYPE_CHECKING, Any

from textual.expand_tabs import get_tab_widths
from textual.geometry import clamp
from textual.widgets.text_area import Document, DocumentBase, EditResult, Location, WrappedDocument

from scribe.studio.journal import LineChanges
from scribe.ui.textual_private import compute_wrap_offsets

if TYPE_CHECKING:
    import numpy as np

WHOLE_WRAP_LINES = 20_000
"""An edit leaving more lines than this re-wraps the whole document (array operations) instead of line by line."""
_NONE: list[int] = []
"""The wrap offsets and tab widths of a line without breaks or tabs (shared: never mutated)."""


LOCATE_GROUP = 8_192
"""Lines whose lengths `get_location_from_index` sums in one step before looking at them one by one."""


def shifted(mark: Location, top: Location, bottom: Location, end: Location) -> Location:
    """Where `mark` is after the text from `top` to `bottom` was replaced by text now ending at `end`: unchanged when
    the edit starts at or after it (text typed at the mark goes after it), moved with the text after an edit before
    it, at the edit's start when the edit removed the text around it."""
    if mark <= top:
        return mark
    if mark < bottom:
        return top
    row, column = mark
    if row == bottom[0]:
        return end[0], end[1] + column - bottom[1]
    return row + end[0] - bottom[0], column


class FastDocument(Document):
    """A Document whose `text` is joined once per change, that knows its length without joining it, that records its
    edits by lines (`changes`) for the autosave journal, and whose `mark` follows the edits."""

    _joined: str | None = None
    _length: int | None = None
    changes: LineChanges | None = None
    """Where edits are recorded (None: not recorded)."""
    mark: Location | None = None
    """A location each edit moves with the text around it (`shifted`); None: no mark."""
    edit_count = 0
    """How many times the text was replaced in part (edits, undos and redos)."""

    @property
    def text(self) -> str:
        """The whole text (cached until the next change)."""
        if self._joined is None:
            self._joined = super().text
        return self._joined

    @property
    def length(self) -> int:
        """`len(self.text)`, counted once, then kept up to date by each edit (no join)."""
        if self._length is None:
            lines = self._lines
            self._length = sum(map(len, lines)) + len(self.newline) * (len(lines) - 1)
        return self._length

    def get_text_range(self, start: Location, end: Location) -> str:
        """The text between two locations, as Textual's method gives it, joined once (Textual adds line after line
        to a string: quadratic, 8 s for the 2 MB a restored journal replaces, minutes for 50 MB)."""
        if start == end:
            return ""
        (top_row, top_column), (bottom_row, bottom_column) = sorted((start, end))
        lines = self._lines
        if top_row == bottom_row:
            return lines[top_row][top_column:bottom_column]
        parts = [lines[top_row][top_column:], *lines[top_row + 1:bottom_row]]
        if bottom_row < len(lines):
            parts.append(lines[bottom_row][:bottom_column])
        return self._newline.join(parts)

    def get_index_from_location(self, location: Location) -> int:
        """The character offset of `location` (a sum of the lengths of the lines before it)."""
        row, column = location
        return sum(map(len, islice(self._lines, row))) + row * len(self._newline) + column

    def get_location_from_index(self, index: int) -> Location:
        """The location of character offset `index` (Textual's answer: an offset at a line's newline is that line's
        end, one inside a two-character newline is past it); ValueError outside the text. Sums the lengths of a group
        of lines at a time."""
        if not 0 <= index <= self.length:
            raise ValueError(f"Index {index!r} does not correspond to a location in the document.")
        lines, newline = self._lines, len(self._newline)
        row = start = 0
        while row + LOCATE_GROUP < len(lines):
            size = sum(map(len, islice(lines, row, row + LOCATE_GROUP))) + LOCATE_GROUP * newline
            if start + size > index:
                break
            row, start = row + LOCATE_GROUP, start + size
        while index >= (end := start + len(lines[row]) + newline):
            row, start = row + 1, end
        return row, index - start

    def record_changes(self) -> LineChanges:
        """Record the edits from now on (in a fresh `LineChanges`, returned)."""
        self.changes = LineChanges()
        return self.changes

    def replace_range(self, start: Location, end: Location, text: str) -> EditResult:
        self._joined = None
        lines = self._lines
        top, bottom = sorted((start, end))
        row = min(top[0], len(lines))
        old = lines[row:bottom[0] + 1]  # the lines Textual replaces (none past the end)
        result = super().replace_range(start, end, text)
        self.edit_count += 1
        if self.mark is not None:
            self.mark = shifted(self.mark, top, bottom, result.end_location)
        added = result.end_location[0] - top[0] + 1
        if self._length is not None:
            self._length += (sum(map(len, lines[row:row + added])) - sum(map(len, old))
                             + len(self.newline) * (added - len(old)))
        if self.changes is not None:
            self.changes.record(lines, row, len(old), added)
        return result


class FastWrappedDocument(WrappedDocument):
    """A WrappedDocument whose wrapping costs array operations per document and Python work per wrapped line."""

    def __init__(self, document: DocumentBase, width: int = 0, tab_width: int = 4) -> None:  # noqa: D107
        import numpy

        self.document = document
        self._width = -1  # no wrap yet: the first `wrap` is never skipped
        self._tab_width = tab_width
        # numpy object arrays where Textual has lists (indexing and len() are all its code uses): see the docstring
        self._wrap_offsets = _objects([])  # type: ignore[assignment]
        self._tab_width_cache = _objects([])  # type: ignore[assignment]
        self._heights: np.ndarray = numpy.zeros(0, dtype=numpy.int64)
        self._starts: np.ndarray | None = None
        self._total = 0
        self._plain: bool | None = None
        """Whether every line is ASCII without tabs (None: not known since the last edit), for `_plain_lines`
        lines; then `_lengths` (once asked) holds each line's length: a resize re-wraps without reading the lines
        again."""
        self._plain_lines = -1
        self._lengths: np.ndarray | None = None
        self.wrap(width, tab_width)

    # Textual's code reads these two attributes directly: views over the arrays stand in for its lists.
    @property
    def _offset_to_line_info(self) -> _RowsView:  # type: ignore[override]
        return _RowsView(self)

    @property
    def _line_index_to_offsets(self) -> _LineRowsView:  # type: ignore[override]
        return _LineRowsView(self)

    @property
    def wrapped(self) -> bool:
        """True when no line wraps (Textual's meaning: as many rows as lines)."""
        return self._total == len(self._heights)

    @property
    def height(self) -> int:
        """The number of rows of the wrapped document."""
        return self._total

    def starts(self) -> np.ndarray:
        """Each line's first row (built after a change, when first asked)."""
        if self._starts is None:
            import numpy

            starts = numpy.empty(len(self._heights), dtype=numpy.int64)
            if len(starts):
                starts[0] = 0
                numpy.cumsum(self._heights[:-1], out=starts[1:])
            self._starts = starts
        return self._starts

    def wrap(self, width: int, tab_width: int | None = None) -> None:
        """Wrap every line at `width` (0: no wrapping); nothing to do when width and tab width are unchanged."""
        import numpy

        tab_width = tab_width or self._tab_width
        lines = self.document.lines
        if (width, tab_width) == (self._width, self._tab_width) and len(lines) == len(self._heights):
            return
        self._width, self._tab_width = width, tab_width
        count = len(lines)
        if self._plain is None or self._plain_lines != count:
            self._plain = all(map(str.isascii, lines)) and not any(map(operator.contains, lines, repeat("\t")))
            self._plain_lines, self._lengths = count, None
        if self._plain and not width:
            special = []
        elif self._plain:
            if self._lengths is None:
                self._lengths = numpy.fromiter(map(len, lines), dtype=numpy.int64, count=count)
            special = numpy.flatnonzero(self._lengths > width).tolist()
        else:  # a character may take two cells, a tab up to tab_width
            half = width // 2
            special = [index for index, line in enumerate(lines) if "\t" in line or (width and len(line) > half)]
        self._wrap_offsets = _objects(_NONE, count)  # type: ignore[assignment]
        self._tab_width_cache = _objects(_NONE, count)  # type: ignore[assignment]
        heights = numpy.ones(count, dtype=numpy.int64)
        for index in special:
            offsets, tabs = self._wrap_line(lines[index])
            self._wrap_offsets[index], self._tab_width_cache[index] = offsets, tabs
            heights[index] = len(offsets) + 1
        self._set_heights(heights)

    def wrap_range(self, start: Location, old_end: Location, new_end: Location) -> None:
        """Re-wrap the lines an edit touched (call after the document changed), as Textual's `wrap_range` does."""
        import numpy

        self._plain = self._lengths = None
        old_max = len(self._heights) - 1
        new_max = self.document.line_count - 1
        start_line = clamp(start[0], 0, min(old_max, new_max))
        top, old_bottom = sorted((start_line, clamp(old_end[0], 0, old_max)))
        new_bottom = max(start_line, clamp(new_end[0], 0, new_max))
        if new_bottom - top >= WHOLE_WRAP_LINES:  # a paste or a restore of many lines: the array-wise wrap
            width, self._width = self._width, -1
            self.wrap(width, self._tab_width)
            return
        wrapped = [self._wrap_line(line) for line in self.document.lines[top : new_bottom + 1]]
        self._wrap_offsets = _spliced(self._wrap_offsets, top, old_bottom + 1,  # type: ignore[assignment,arg-type]
                                      [offsets for offsets, _ in wrapped])
        self._tab_width_cache = _spliced(self._tab_width_cache, top, old_bottom + 1,  # type: ignore[assignment,arg-type]
                                         [tabs for _, tabs in wrapped])
        new_heights = numpy.fromiter((len(offsets) + 1 for offsets, _ in wrapped), dtype=numpy.int64,
                                     count=len(wrapped))
        old_heights = self._heights[top : old_bottom + 1]
        if len(old_heights) != len(new_heights):
            self._set_heights(numpy.concatenate((self._heights[:top], new_heights, self._heights[old_bottom + 1 :])))
        elif not numpy.array_equal(old_heights, new_heights):  # typing within lines: no copy of the arrays
            self._total += int(new_heights.sum() - old_heights.sum())
            old_heights[:] = new_heights
            self._starts = None

    def _wrap_line(self, line: str) -> tuple[list[int], list[int]]:
        """A line's wrap offsets and tab widths."""
        width = self._width
        if "\t" not in line and (not width or len(line) * 2 <= width or (len(line) <= width and line.isascii())):
            return _NONE, _NONE
        sections = get_tab_widths(line, self._tab_width)
        offsets = (compute_wrap_offsets(line, self._width, tab_size=self._tab_width,
                                        precomputed_tab_sections=sections) if self._width else [])
        return offsets or _NONE, [width for _, width in sections] or _NONE

    def _set_heights(self, heights: np.ndarray) -> None:
        self._heights = heights
        self._starts = None
        self._total = int(heights.sum())


def _objects(items: list[Any], count: int | None = None) -> np.ndarray:
    """A one-dimensional object array of `items` (each a list, kept as one element), or of `count` times the list
    `items` when `count` is given."""
    import numpy

    array = numpy.empty(len(items) if count is None else count, dtype=object)
    if count is None:
        for index, item in enumerate(items):
            array[index] = item
    else:
        array.fill(items)
    return array


def _spliced(array: np.ndarray, start: int, stop: int, items: list[list[int]]) -> np.ndarray:
    """`array` with its elements `start:stop` replaced by `items` (in place when the lengths match)."""
    import numpy

    if stop - start == len(items):
        for index, item in enumerate(items, start):
            array[index] = item
        return array
    return numpy.concatenate((array[:start], _objects(items), array[stop:]))


class _RowsView:
    """`row -> (line, section)` for every row, like Textual's `_offset_to_line_info` list."""

    def __init__(self, wrapped: FastWrappedDocument) -> None:
        self._wrapped = wrapped

    def __len__(self) -> int:
        return self._wrapped.height

    def __getitem__(self, row: int) -> tuple[int, int]:
        import numpy

        total = self._wrapped.height
        if row < 0:
            row += total
        if not 0 <= row < total:
            raise IndexError(row)
        starts = self._wrapped.starts()
        line = int(numpy.searchsorted(starts, row, side="right")) - 1
        return line, row - int(starts[line])


class _LineRowsView:
    """`line -> [its rows]` for every line, like Textual's `_line_index_to_offsets` list."""

    def __init__(self, wrapped: FastWrappedDocument) -> None:
        self._wrapped = wrapped

    def __len__(self) -> int:
        return len(self._wrapped._heights)

    def __getitem__(self, line: int) -> list[int]:
        first = int(self._wrapped.starts()[line])
        return list(range(first, first + int(self._wrapped._heights[line])))


def adopt(document: Any) -> None:
    """Switch a plain Document to the caching kind in place (other kinds are left as they are, e.g. syntax-aware
    documents)."""
    if type(document) is Document:
        document.__class__ = FastDocument
