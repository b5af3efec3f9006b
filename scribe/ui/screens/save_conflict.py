"""The file changed on disk since scribe read it: overwrite it, reload it (the writer's text kept as a copy), save
elsewhere, or look at the difference first."""

from __future__ import annotations

import difflib
from typing import Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from scribe.ui.keys import SAVE_CONFLICT_BINDINGS, keys_shown

ConflictChoice = Literal["overwrite", "reload", "save_as", "cancel"]
MAX_DIFF_LINES = 400
"""The difference shown is cut after this many lines (the rest is summarised)."""


def difference(on_disk: str | None, mine: str, name: str) -> str:
    """A unified diff from the file on disk to the writer's text (or why there is none to show)."""
    if on_disk is None:
        return f"{name} cannot be read now (removed, or not text): nothing to compare."
    lines = list(difflib.unified_diff(on_disk.splitlines(), mine.splitlines(), f"{name} (on disk)",
                                      f"{name} (your text)", lineterm=""))
    if not lines:
        return "No difference in the text (only the file's bytes or time changed)."
    if len(lines) > MAX_DIFF_LINES:
        lines = lines[:MAX_DIFF_LINES] + [f"... {len(lines) - MAX_DIFF_LINES} more lines"]
    return "\n".join(lines)


class SaveConflictScreen(ModalScreen[ConflictChoice]):
    """Ask what to do about a file changed on disk; `diff` is shown on request (d)."""

    DEFAULT_CSS = """
    SaveConflictScreen { align: center middle; }
    SaveConflictScreen > Vertical { width: 90; max-width: 100%; height: auto; max-height: 90%;
                                    border: thick $warning; background: $surface; padding: 1 2; }
    SaveConflictScreen Label { width: 100%; margin-bottom: 1; }
    SaveConflictScreen #conflict-diff { height: auto; max-height: 16; display: none; border: round $panel; }
    SaveConflictScreen #conflict-diff.-shown { display: block; }
    SaveConflictScreen Grid { grid-size: 3; grid-gutter: 0 1; height: auto; }
    SaveConflictScreen Button { width: 100%; }
    """
    BINDINGS = SAVE_CONFLICT_BINDINGS

    def __init__(self, message: str, diff: str, copy_name: str) -> None:
        super().__init__()
        self.message = message
        self.diff = diff
        self.copy_name = copy_name

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]The file changed on disk[/b]")
            yield Label(Text(self.message + f"\nReload keeps your text as {self.copy_name}."))
            with VerticalScroll(id="conflict-diff"):
                yield Static(Text(self.diff), id="conflict-diff-text")
            with Grid():  # five buttons in two rows: whole labels in an 80-column terminal
                yield Button(f"Overwrite ({keys_shown(self, 'conflict_overwrite')})", variant="error", id="overwrite")
                yield Button(f"Reload ({keys_shown(self, 'conflict_reload')})", variant="primary", id="reload")
                yield Button(f"Save as ({keys_shown(self, 'conflict_save_as')})", id="save_as")
                yield Button(f"Difference ({keys_shown(self, 'conflict_diff')})", id="diff")
                yield Button(f"Cancel ({keys_shown(self, 'conflict_cancel')})", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "diff":
            self.action_toggle_diff()
        else:
            self.dismiss(event.button.id)  # type: ignore[arg-type]

    def action_toggle_diff(self) -> None:
        """Show or hide the difference between the file on disk and the writer's text."""
        self.query_one("#conflict-diff").toggle_class("-shown")

    def action_choose(self, choice: ConflictChoice) -> None:
        self.dismiss(choice)
