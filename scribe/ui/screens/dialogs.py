"""Modal dialogs. Each dismisses with the writer's choice; the app acts on it."""

from __future__ import annotations

import time
from typing import Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList

from scribe.studio.journal import JournalEntry
from scribe.ui.keys import (CONFIRM_BINDINGS, CONFIRM_QUIT_BINDINGS, OPEN_BINDINGS, RECOVER_BINDINGS, SAVE_AS_BINDINGS,
                            keys_shown)

_DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 72; max-width: 100%; height: auto; border: thick $primary; background: $surface;
                     padding: 1 2; }}
{name} Label {{ width: 100%; margin-bottom: 1; }}
{name} Horizontal {{ height: auto; align-horizontal: right; }}
{name} Button {{ margin-left: 1; }}
"""


class RecoverScreen(ModalScreen[bool]):
    """Unsaved text was left by a crash: restore it (True) or discard it (False)."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="RecoverScreen")
    BINDINGS = RECOVER_BINDINGS

    def __init__(self, entry: JournalEntry, file_changed: bool) -> None:
        super().__init__()
        self.entry = entry
        self.file_changed = file_changed

    def compose(self) -> ComposeResult:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.entry.saved_at))
        what = self.entry.path or "an untitled document"
        message = f"Unsaved text of {what} was autosaved at {when} ({len(self.entry.text)} characters) and not saved."
        if self.file_changed:
            message += "\nThe file on disk has changed since then."
        with Vertical():
            yield Label("[b]Recover unsaved text?[/b]")
            yield Label(Text(message))
            with Horizontal():
                yield Button(f"Restore ({keys_shown(self, 'recover_restore')})", variant="primary", id="restore")
                yield Button(f"Discard ({keys_shown(self, 'recover_discard')})", variant="error", id="discard")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "restore")

    def action_choose(self, restore: bool) -> None:
        self.dismiss(restore)


class SaveAsScreen(ModalScreen[str | None]):
    """Ask for a file name; None when cancelled."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="SaveAsScreen")
    BINDINGS = SAVE_AS_BINDINGS

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Save as[/b] (Enter saves, Esc cancels)")
            yield Input(placeholder="file name, e.g. ~/story.txt", id="save-path")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)


QuitChoice = Literal["save", "discard", "cancel"]


class ConfirmQuitScreen(ModalScreen[QuitChoice]):
    """The document has unsaved changes: save and quit, quit without saving, or stay."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="ConfirmQuitScreen")
    BINDINGS = CONFIRM_QUIT_BINDINGS

    def __init__(self, title: str) -> None:
        super().__init__()
        self.doc_title = title

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text.assemble((self.doc_title, "bold"), " has unsaved changes."))
            with Horizontal():
                yield Button(f"Save and quit ({keys_shown(self, 'quit_save')})", variant="primary", id="save")
                yield Button(f"Quit without saving ({keys_shown(self, 'quit_discard')})", variant="error",
                             id="discard")
                yield Button(f"Cancel ({keys_shown(self, 'quit_cancel')})", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id)  # type: ignore[arg-type]

    def action_choose(self, choice: QuitChoice) -> None:
        self.dismiss(choice)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question about something that cannot be undone: y (or the button) says yes, n or escape no."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="ConfirmScreen")
    BINDINGS = CONFIRM_BINDINGS

    def __init__(self, question: str, yes: str) -> None:
        super().__init__()
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(self.question))
            with Horizontal():
                yield Button(f"{self.yes} ({keys_shown(self, 'confirm_yes')})", variant="error", id="yes")
                yield Button(f"Keep ({keys_shown(self, 'confirm_no')})", variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_choose(self, yes: bool) -> None:
        self.dismiss(yes)


class OpenScreen(ModalScreen[str | None]):
    """Ask for a document to open: a path typed (Enter) or one of the recent documents (↓ then Enter)."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="OpenScreen") + "OpenScreen OptionList { height: auto; max-height: 12; }"
    BINDINGS = OPEN_BINDINGS

    def __init__(self, recent: list[str]) -> None:
        super().__init__()
        self.recent = recent

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Open[/b] a file: type its path and Enter (a new name starts a new file), or pick a recent one")
            yield Input(placeholder="file name, e.g. ~/story.txt", id="open-path")
            if self.recent:
                yield OptionList(*self.recent, id="open-recent")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.recent[event.option_index])
