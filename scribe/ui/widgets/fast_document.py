"""Textual's text documents with two O(document) answers kept between edits, for long documents.

Textual's TextArea (pinned version) asks, for every line it draws, for the whole text (to decide whether to show its
placeholder: a join of every line) and for the wrapped height (a sum over every line). In a 100,000-word document
each costs about as much as drawing the line itself, forty times per repaint. These subclasses compute each once per
change: `Document.replace_range` is the only way text changes (edits, undo and redo all call it), and `wrap` and
`wrap_range` are the only ways wrapping changes. `Editor` switches its documents to them (`adopt`).
"""

from __future__ import annotations

from textual.widgets.text_area import Document, EditResult, Location, WrappedDocument


class FastDocument(Document):
    """A Document whose `text` is joined once per change."""

    _joined: str | None = None

    @property
    def text(self) -> str:
        """The whole text (cached until the next change)."""
        if self._joined is None:
            self._joined = super().text
        return self._joined

    def replace_range(self, start: Location, end: Location, text: str) -> EditResult:
        self._joined = None
        return super().replace_range(start, end, text)


class FastWrappedDocument(WrappedDocument):
    """A WrappedDocument whose `height` is summed once per change of wrapping."""

    _height: int | None = None

    @property
    def height(self) -> int:
        """The number of wrapped lines (cached until the next wrap)."""
        if self._height is None:
            self._height = super().height
        return self._height

    def wrap(self, width: int, tab_width: int | None = None) -> None:
        self._height = None
        super().wrap(width, tab_width)

    def wrap_range(self, start: Location, old_end: Location, new_end: Location) -> None:
        self._height = None
        super().wrap_range(start, old_end, new_end)


def adopt(document: object, wrapped: object) -> None:
    """Switch a plain Document and its WrappedDocument to the caching kinds in place (other kinds are left as they
    are, e.g. syntax-aware documents)."""
    if type(document) is Document:
        document.__class__ = FastDocument
    if type(wrapped) is WrappedDocument:
        wrapped.__class__ = FastWrappedDocument
