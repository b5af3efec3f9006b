"""Choosing an export format: the document as Markdown, Markdown with the branch tree, or the tree as JSON."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from scribe.ui.keys import EXPORT_BINDINGS, hint_key

FORMATS: dict[str, tuple[str, str]] = {
    "md": ("Markdown", ".export.md"),
    "md-tree": ("Markdown with the branch tree", ".export-tree.md"),
    "json": ("the branch tree as JSON", ".branches.json"),
}
"""Format id -> (description, suffix of the file written beside the document)."""


def export_path(document: Path | None, fmt: str) -> Path:
    """Where an export of `document` (untitled: in the current folder) is written."""
    base = document if document is not None else Path.cwd() / "untitled"
    return base.with_name(base.stem + FORMATS[fmt][1])


class ExportScreen(ModalScreen[str | None]):
    """Dismisses with the chosen format id, or None."""

    DEFAULT_CSS = """
    ExportScreen { align: center middle; }
    ExportScreen > Vertical { width: 90; max-width: 100%; height: auto; border: thick $primary; background: $surface;
                              padding: 0 1; }
    ExportScreen OptionList { height: auto; }
    """
    BINDINGS = EXPORT_BINDINGS

    def __init__(self, document: Path | None) -> None:
        super().__init__()
        self.document = document

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]Export[/b]  enter writes the file · {escape(hint_key(self, 'export_close'))} closes")
            yield OptionList(*(Option(f"{text}  → {export_path(self.document, fmt)}", id=fmt)
                               for fmt, (text, _) in FORMATS.items()), id="export-formats")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
