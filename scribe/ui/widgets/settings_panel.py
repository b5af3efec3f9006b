"""The settings panel: the model, where it runs, the number of alternatives and every sampling parameter.

The sampling rows come from `dataclasses.fields(SamplingParams)` and `field_docs()`, so the panel follows the
parameters as they change. The panel only edits text: it posts `SettingsPanel.Edited` when a value is submitted (Enter)
or left (focus moves away); the app validates it and shows the values in effect, and their scopes, with `show`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from textual import events
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label, Static

from scribe.config import DTYPES, MAX_ALTERNATIVES, Settings
from scribe.sampling.params import PHRASE_LISTS, InvalidSetting, SamplingParams, field_docs
from scribe.studio.layered_settings import value_of

RELOAD_FIELDS = frozenset({"model", "device", "dtype"})
"""Settings whose change reloads the model."""

MODEL_FIELDS: dict[str, str] = {
    "model": "Model name (bundled, scribe-trained or Hugging Face repo id) or a folder path. Enter reloads.",
    "device": "Where the model runs: auto, cpu, cuda, cuda:N or mps. Enter reloads.",
    "dtype": "Weight precision: auto, float32, float16, bfloat16 or int8 (CPU). Enter reloads.",
    "alternatives": "How many top alternatives each streamed token carries (0 to 20).",
}

MAX_DRAFTS = 8
WRITING_FIELDS: dict[str, str] = {
    "prose": "on: join the single line breaks a model puts inside a paragraph (paragraph breaks stay); off: keep them.",
    "drafts": f"How many continuations the drafts key asks for at once (1 to {MAX_DRAFTS}), cycled with alt+←/→.",
}
_SWITCH_WORDS = {"on": True, "yes": True, "true": True, "1": True, "off": False, "no": False, "false": False, "0": False}


def sampling_field_names() -> list[str]:
    """The sampling parameters, in declaration order."""
    return [f.name for f in dataclasses.fields(SamplingParams)]


def format_value(name: str, value: Any) -> str:
    """The text a setting's input shows."""
    if name == "seed" and value is None:
        return ""
    if name in PHRASE_LISTS:
        return "|".join(s.encode("unicode_escape").decode("ascii") for s in value)
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def updated_settings(settings: Settings, name: str, text: str) -> Settings:
    """`settings` with setting `name` set from the typed `text`; InvalidSetting (naming the setting) when refused."""
    if name in sampling_field_names():
        value = SamplingParams.parse_field(name, text)
        return settings.replace(sampling=settings.sampling.replace(**{name: value}))
    text = text.strip()
    if name == "alternatives":
        try:
            count = int(text)
        except ValueError:
            raise InvalidSetting(f"alternatives: {text!r} is not a whole number") from None
        if not 0 <= count <= MAX_ALTERNATIVES:
            raise InvalidSetting(f"alternatives: {count} is out of range; it must be between 0 and {MAX_ALTERNATIVES}")
        return settings.replace(alternatives=count)
    if name == "prose":
        if text.lower() not in _SWITCH_WORDS:
            raise InvalidSetting(f"prose: {text!r} is not on or off")
        return settings.replace(prose=_SWITCH_WORDS[text.lower()])
    if name == "drafts":
        try:
            count = int(text)
        except ValueError:
            raise InvalidSetting(f"drafts: {text!r} is not a whole number") from None
        if not 1 <= count <= MAX_DRAFTS:
            raise InvalidSetting(f"drafts: {count} is out of range; it must be between 1 and {MAX_DRAFTS}")
        return settings.replace(drafts=count)
    if name == "dtype" and text not in DTYPES:
        raise InvalidSetting(f"dtype: {text!r} is not one of {', '.join(DTYPES)}")
    if name in RELOAD_FIELDS:
        if not text:
            raise InvalidSetting(f"{name}: cannot be empty")
        return settings.replace(**{name: text})
    raise InvalidSetting(f"unknown setting: {name}")



class SettingsPanel(VerticalScroll):
    """One labelled input per setting, built when the panel first opens; each input's tooltip is the setting's help
    text."""

    DEFAULT_CSS = """
    SettingsPanel { width: 44; border-left: tall $primary-darken-2; padding: 0 1; display: none; }
    SettingsPanel.-open { display: block; }
    SettingsPanel .section { color: $accent; text-style: bold; margin-top: 1; }
    SettingsPanel Label { color: $text-muted; }
    SettingsPanel Input { height: 1; border: none; padding: 0 1; background: $boost; }
    SettingsPanel Input:focus { border: none; background: $accent 25%; }
    SettingsPanel Label.-unavailable { color: $text-disabled; text-style: strike; }
    SettingsPanel Input.-unavailable { color: $text-disabled; }
    SettingsPanel #setting-help { dock: bottom; height: auto; max-height: 8; border-top: solid $primary-darken-2;
                                  color: $text; background: $panel; }
    """

    class Edited(Message):
        """The writer submitted or left a setting's input."""

        def __init__(self, name: str, text: str, submitted: bool) -> None:
            super().__init__()
            self.name = name
            self.text = text
            self.submitted = submitted
            """True for Enter, False when the input lost focus."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._settings = settings
        self._unavailable: dict[str, str] = {}
        """Settings the loaded model cannot apply, and why (kept while the rows are not built)."""
        self._scopes: dict[str, str] = {}
        """Where each value in effect comes from: document, global, model or default."""

    async def open(self) -> None:
        """Show the panel. Its rows are built the first time: most sessions never open it, and building its ~60
        widgets with the first screen took about 100 ms of the studio's start-up."""
        if not self.children:
            await self.mount_all(self._rows())
        self.add_class("-open")

    def _rows(self) -> list[Widget]:
        rows: list[Widget] = [Label("Model", classes="section")]
        for name in MODEL_FIELDS:
            rows += self._row(name)
        rows.append(Label("Writing", classes="section"))
        for name in WRITING_FIELDS:
            rows += self._row(name)
        rows.append(Label("Sampling", classes="section"))
        for name in field_docs():
            rows += self._row(name)
        rows.append(Static("Enter applies a value (saved for every document and for this one); a refused value goes "
                           "back to the one in effect. After a name: where its value comes from.", id="setting-help",
                           markup=False))
        return rows

    def _row(self, name: str) -> list[Widget]:
        field = Input(format_value(name, value_of(self._settings, name)), id=f"setting-{name}",
                      placeholder="random" if name == "seed" else "")
        label = Label(self._label_text(name), id=f"label-{name}")
        self._mark(field, name, label)
        return [label, field]

    def input_for(self, name: str) -> Input:
        """The input of setting `name` (once the panel has been opened)."""
        return self.query_one(f"#setting-{name}", Input)

    @staticmethod
    def names() -> list[str]:
        """Every setting the panel has a row for."""
        return [*MODEL_FIELDS, *WRITING_FIELDS, *sampling_field_names()]

    def _label_text(self, name: str) -> str:
        """A row's label: the setting's name and, unless it is the built-in default, where its value comes from."""
        scope = self._scopes.get(name, "default")
        return name.replace("_", " ") + ("" if scope == "default" else f" · {scope}")

    def show(self, settings: Settings, scopes: dict[str, str] | None = None, *, reset: str | None = None) -> None:
        """Show the values in effect and, with `scopes`, where each comes from. The row being typed in keeps its
        text, unless it is `reset` (a refused value goes back to the value in effect)."""
        self._settings = settings
        if scopes is not None:
            self._scopes = dict(scopes)
        if not self.children:
            return
        for name in self.names():
            field = self.input_for(name)
            if not field.has_focus or name == reset:
                field.value = format_value(name, value_of(settings, name))
            self.query_one(f"#label-{name}", Label).update(self._label_text(name))

    def mark_unavailable(self, names: frozenset[str], model: str) -> None:
        """Show the sampling settings in `names` as unavailable with `model` (struck through, with the reason in
        their help); the others as usual. Their values stay editable and are kept for other models."""
        self._unavailable = {name: f"unavailable with {model}: this model cannot apply it, so it is not used"
                             for name in names}
        if self.children:
            for name in sampling_field_names():
                self._remark(name)

    def _remark(self, name: str) -> None:
        """Redo a built row's marks (and the help below the rows when it has the focus)."""
        field = self.input_for(name)
        self._mark(field, name, self.query_one(f"#label-{name}", Label))
        if field.has_focus:
            self.query_one("#setting-help", Static).update(field.tooltip)

    def _mark(self, field: Input, name: str, label: Label) -> None:
        """The row's unavailable mark and its tooltip: the reason if unavailable, then the setting's help text."""
        unavailable = self._unavailable.get(name)
        field.set_class(unavailable is not None, "-unavailable")
        label.set_class(unavailable is not None, "-unavailable")
        doc = MODEL_FIELDS.get(name) or WRITING_FIELDS.get(name) or field_docs().get(name, "")
        field.tooltip = "\n\n".join(note for note in (unavailable, doc) if note)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """Show the focused setting's help text (and its error, if refused) below the rows."""
        if isinstance(event.widget, Input) and event.widget.tooltip:
            self.query_one("#setting-help", Static).update(str(event.widget.tooltip))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._edited(event.input, event.value, submitted=True)

    def on_input_blurred(self, event: Input.Blurred) -> None:
        self._edited(event.input, event.value, submitted=False)

    def _edited(self, field: Input, text: str, *, submitted: bool) -> None:
        if field.id and field.id.startswith("setting-"):
            self.post_message(self.Edited(field.id.removeprefix("setting-"), text, submitted))
