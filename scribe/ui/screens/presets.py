"""Choosing a sampling preset, or saving the current settings as the writer's own."""

from __future__ import annotations

from typing import Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from scribe.studio.presets import Preset
from scribe.ui.keys import PRESETS_BINDINGS, hint_key

PresetChoice = tuple[Literal["apply", "save"], str]


def preset_summary(preset: Preset) -> Text:
    """A preset's name, where it comes from, and what it sets."""
    line = Text(preset.name, style="bold")
    line.append("  built-in" if preset.builtin else "  yours", style="dim")
    settings = ", ".join(f"{k}={v}" for k, v in preset.values.items()) or "the defaults"
    return line.append(f"  {settings}", style="dim")


class PresetScreen(ModalScreen[PresetChoice | None]):
    """Enter on a preset applies it; a name typed below saves the current settings under it."""

    DEFAULT_CSS = """
    PresetScreen { align: center middle; }
    PresetScreen > Vertical { width: 90; max-width: 100%; height: auto; max-height: 90%; border: thick $primary;
                              background: $surface; padding: 0 1; }
    PresetScreen OptionList { height: auto; max-height: 16; }
    PresetScreen Input { margin-top: 1; }
    """
    BINDINGS = PRESETS_BINDINGS

    def __init__(self, presets: dict[str, Preset], active: str | None) -> None:
        super().__init__()
        self.presets = presets
        self.active = active

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Sampling presets[/b]  enter applies · tab to save the current settings · "
                        f"{escape(hint_key(self, 'presets_close'))} closes")
            options = [Option(preset_summary(p).append("  ◀ now" if name == self.active else "", style="bold"), id=name)
                       for name, p in self.presets.items()]
            yield OptionList(*options, id="preset-list")
            yield Input(placeholder="save the current settings as… (a name, then enter)", id="preset-name")

    def on_mount(self) -> None:
        options = self.query_one("#preset-list", OptionList)
        options.highlighted = list(self.presets).index(self.active) if self.active in self.presets else 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(("apply", event.option.id or ""))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(("save", event.value.strip()))
