"""The continuation as an editable draft: the writer fixes it here, then keeps it (tab), instead of keeping text they
then fix in the document. It takes the continuation pane's place while open."""

from __future__ import annotations

from textual.message import Message
from textual.widgets import TextArea

from scribe.ui.keys import DRAFT_BINDINGS, hint_key


class Draft(TextArea):
    """An editable copy of the offered continuation; escape puts it away (its edits are kept for the same branch)."""

    BINDINGS = DRAFT_BINDINGS
    DEFAULT_CSS = """
    Draft { display: none; height: 1fr; min-height: 6; border: round $warning; }
    Draft:focus { border: round $warning; }
    Draft.-open { display: block; }
    """

    class Closed(Message):
        """The writer put the draft away without keeping it."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", soft_wrap=True, tab_behavior="focus", show_line_numbers=False, **kwargs)  # type: ignore[arg-type]
        self.node_id: str | None = None
        """The shown node the draft was made from."""

    def open(self, node_id: str, text: str) -> None:
        """Show `text` to edit (the edits kept from the last time when it is the same node) and focus it."""
        if node_id != self.node_id:
            self.load_text(text)
            self.node_id = node_id
        self.border_title = f"draft · edit, then {hint_key(self, 'accept')} keeps it · {hint_key(self, 'draft_close')} back"
        self.add_class("-open")
        self.focus()
        self.move_cursor(self.document.end)

    @property
    def is_open(self) -> bool:
        """True while the draft is shown."""
        return self.has_class("-open")

    def close(self, *, forget: bool = False) -> None:
        """Hide the draft; `forget` drops its text (it was kept, or its branch is gone)."""
        self.remove_class("-open")
        if forget:
            self.node_id = None
            self.load_text("")

    def action_close(self) -> None:
        self.post_message(self.Closed())
