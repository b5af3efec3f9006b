"""The writer's editor: a soft-wrapped TextArea that keeps a mark where a pending continuation will be inserted."""

from __future__ import annotations

from textual.message import Message
from textual.widgets.text_area import Document, Location

from scribe.ui.keys import EDITOR_BINDINGS
from scribe.ui.textual_private import DocumentSetHook
from scribe.studio.journal import LineChanges
from scribe.ui.widgets.fast_document import FastDocument, FastWrappedDocument, adopt


class Editor(DocumentSetHook):
    """A TextArea with a mark (a location) that follows edits made while a continuation is pending.

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
    def mark_location(self) -> Location | None:
        """The marked location (moved by every edit, see `FastDocument.mark`), or None."""
        return self.fast_document.mark

    @property
    def mark(self) -> int | None:
        """The marked character offset (counted when asked: a sum over the lines before it), or None."""
        location = self.fast_document.mark
        return None if location is None else self.document.get_index_from_location(location)

    def set_mark(self, location: Location | None = None) -> Location:
        """Mark `location` (default: the cursor) and return it."""
        self.fast_document.mark = location or self.cursor_location
        return self.fast_document.mark

    def clear_mark(self) -> None:
        """Forget the mark."""
        self.fast_document.mark = None

    def text_before_cursor(self) -> str:
        """The text from the start of the document to the cursor: the prompt for a continuation."""
        return self.get_text_range((0, 0), self.cursor_location)

    def insert_at_mark(self, text: str) -> None:
        """Insert `text` at the mark as one undo step and put the cursor after it."""
        location = self.mark_location
        if location is None:
            raise RuntimeError("no mark set")
        self.history.checkpoint()
        result = self.insert(text, location)
        self.history.checkpoint()
        self.clear_mark()
        self.move_cursor(result.end_location)

    def undo(self) -> None:
        """Undo the last edit, and say so (an undone accept un-marks its branch)."""
        before = self.fast_document.edit_count
        super().undo()
        if self.fast_document.edit_count != before:
            self.post_message(self.Undone(redo=False))

    def redo(self) -> None:
        """Redo the last undone edit, and say so."""
        before = self.fast_document.edit_count
        super().redo()
        if self.fast_document.edit_count != before:
            self.post_message(self.Undone(redo=True))
