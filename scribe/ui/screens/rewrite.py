"""The instruct-actions menu: rewrite, expand, shorten, describe the selected passage, or an instruction typed in.

It dismisses with the chosen action's name and the instruction typed (empty for the actions that need none), or
None. With a model that has no chat template every action is listed but unavailable, under the reason.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from scribe.engine.actions import Action
from scribe.ui.keys import ACTION_MENU_BINDINGS
from scribe.ui.screens.dialogs import _DIALOG_CSS

ActionChoice = tuple[str, str]
"""(action name, instruction typed)."""


def needs_instruction(action: Action) -> bool:
    """True for an action whose template uses what the writer types ({instruction})."""
    return "{instruction}" in action.user or "{instruction}" in action.system


class ActionMenuScreen(ModalScreen[ActionChoice | None]):
    """Pick an action for the selected passage; the custom one asks for the instruction first."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="ActionMenuScreen") + (
        "ActionMenuScreen OptionList { height: auto; max-height: 12; }\n"
        "ActionMenuScreen Input { display: none; }\n"
        "ActionMenuScreen.asking Input { display: block; }\n"
    )
    BINDINGS = ACTION_MENU_BINDINGS

    def __init__(self, actions: Mapping[str, Action], words: int, *, reason: str | None = None,
                 ask: str | None = None) -> None:
        super().__init__()
        self.actions = dict(actions)
        self.words = words
        self.reason = reason
        self.asking: str | None = ask
        """The action waiting for its instruction (typed in the input)."""

    def compose(self) -> ComposeResult:
        with Vertical():
            if self.reason is None:
                yield Label(f"[b]Action[/b] on the selected passage ({self.words} words): the result streams below "
                            "the text; tab replaces the passage, ctrl+z restores it")
            else:
                yield Label(Text.assemble(("Actions unavailable", "bold"), f": {self.reason}"), id="action-reason")
            yield OptionList(*(Option(action.label, id=name, disabled=self.reason is not None)
                               for name, action in self.actions.items()), id="action-list")
            yield Input(placeholder="what should the model do? e.g. make it rain harder", id="action-instruction")

    def on_mount(self) -> None:
        if self.asking is not None and self.reason is None:
            self._ask(self.asking)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        name = event.option.id
        if name is None or self.reason is not None:
            return
        if needs_instruction(self.actions[name]):
            self._ask(name)
        else:
            self.dismiss((name, ""))

    def _ask(self, name: str) -> None:
        self.asking = name
        self.add_class("asking")
        self.query_one(Input).border_title = self.actions[name].label
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self.asking is not None and self.reason is None and event.value.strip():
            self.dismiss((self.asking, event.value.strip()))
