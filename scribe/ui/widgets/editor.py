"""The writer's editor: a soft-wrapped TextArea that keeps a mark where a pending continuation will be inserted."""

from __future__ import annotations

from textual.message import Message
from textual.widgets import TextArea
from textual.widgets.text_area import Document, Location

from scribe.ui.keys import EDITOR_BINDINGS
from scribe.ui.textual_private import DocumentSetHook
from scribe.studio.journal import LineChanges
from scribe.ui.widgets.fast_document import FastDocument, FastWrappedDocument, adopt


class Editor(DocumentSetHook):
    """A TextArea with a mark (a character offset) that follows edits made while a continuation is pending.

    Text typed at the mark goes after the continuation's place: the continuation belongs right after the prompt.
    """

    BINDINGS = EDITOR_BINDINGS
    wrapped_document_class = FastWrappedDocument
    document: Document
    """What TextArea types as a DocumentBase is always a Document here (plain, or syntax-aware with a language), with
    the offset <-> location conversions."""

    class Undone(Message):
        """An undo (`redo` False) or redo (`redo` True) changed the text."""

        def __init__(self, redo: bool) -> None:
            super().__init__()
            self.redo = redo

    def __init__(self, text: str = "", **kwargs: object) -> None:
        super().__init__(text, soft_wrap=True, tab_behavior="focus", show_line_numbers=False, **kwargs)
        self._mark: int | None = None
        self._mark_text = ""

    def document_set(self) -> None:
        """Switch to the caching documents (long documents stay fast to edit)."""
        adopt(self.document)

    @property
    def fast_document(self) -> FastDocument:
        """The text's document (always the caching kind: see `document_set`)."""
        document = self.document
        assert isinstance(document, FastDocument)
        return document

    def record_changes(self) -> LineChanges:
        """Record the text's edits from now on, by lines (for the journal); loading another text ends it."""
        return self.fast_document.record_changes()

    @property
    def text_length(self) -> int:
        """`len(self.text)`, without joining the text."""
        return self.fast_document.length

    def action_document_start(self) -> None:
        """Put the cursor at the start of the text."""
        self.move_cursor(self.document.start)

    def action_document_end(self) -> None:
        """Put the cursor at the end of the text."""
        self.move_cursor(self.document.end)

    @property
    def mark(self) -> int | None:
        """The marked character offset, or None."""
        return self._mark

    def set_mark(self, location: Location | None = None) -> int:
        """Mark `location` (default: the cursor) and return its offset."""
        self._mark_text = self.text
        self._mark = self.document.get_index_from_location(location or self.cursor_location)
        return self._mark

    def clear_mark(self) -> None:
        """Forget the mark."""
        self._mark = None
        self._mark_text = ""

    def text_before_cursor(self) -> str:
        """The text from the start of the document to the cursor: the prompt for a continuation."""
        return self.get_text_range((0, 0), self.cursor_location)

    def insert_at_mark(self, text: str) -> None:
        """Insert `text` at the mark as one undo step and put the cursor after it."""
        if self._mark is None:
            raise RuntimeError("no mark set")
        location = self.document.get_location_from_index(min(self._mark, len(self.text)))
        self.history.checkpoint()
        result = self.insert(text, location)
        self.history.checkpoint()
        self.clear_mark()
        self.move_cursor(result.end_location)

    def undo(self) -> None:
        """Undo the last edit, and say so (an undone accept un-marks its branch)."""
        before = self.text
        super().undo()
        if self.text != before:
            self.post_message(self.Undone(redo=False))

    def redo(self) -> None:
        """Redo the last undone edit, and say so."""
        before = self.text
        super().redo()
        if self.text != before:
            self.post_message(self.Undone(redo=True))

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        """Move the mark with edits made before it."""
        if self._mark is not None:
            new = self.text
            self._mark = shift_mark(self._mark_text, new, self._mark)
            self._mark_text = new


def shift_mark(old: str, new: str, mark: int) -> int:
    """Where offset `mark` in `old` lands in `new` after one edit: unchanged when the edit is at or after it."""
    if old[:mark] == new[:mark]:
        return mark
    tail = len(old) - mark
    if tail <= len(new) and old[mark:] == new[len(new) - tail :]:
        return len(new) - tail
    return _common_prefix(old, new)


def _common_prefix(a: str, b: str) -> int:
    """Length of the common prefix (binary search over C-speed slice comparisons)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low
