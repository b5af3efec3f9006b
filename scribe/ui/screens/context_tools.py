"""Editing a document's context tools: memory, author's note and its depth, and the lorebook's entries and settings.

Keyboard only: tab moves between fields, the entry list's up/down picks the entry the fields beside it edit, alt+n adds
an entry, alt+x deletes the highlighted one, escape closes (these keys, remapped or not, work from inside a text
field). An entry's fields: name, keys and secondary keys (comma-separated; `/pattern/flags` is a regular expression),
order, its own scan depth (blank: the lorebook's), always on, case-sensitive, enabled, and its text. Every change is
handed to `on_change` at once (the studio saves it beside the document); a field that does not parse (a depth that is
not a number, a key that is not a valid regular expression) is flagged and not applied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from textual.markup import escape
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from scribe.studio.context import ContextTools
from scribe.studio.lorebook import LoreEntry, Lorebook, key_pattern
from scribe.ui.keys import CONTEXT_TOOLS_BINDINGS, hint_key


def entry_option(entry: LoreEntry) -> Text:
    """How an entry is listed: its name and what fires it."""
    line = Text(entry.label or "(new entry)", style="bold" if entry.enabled else "dim strike")
    fires = "always" if entry.always else ", ".join(entry.keys) or "no keys"
    if entry.secondary_keys and not entry.always:
        fires += " + " + ", ".join(entry.secondary_keys)
    return line.append(f"  {fires}", style="dim")


def _whole(text: str, name: str, low: int | None = 0) -> int:
    """`text` as a whole number, at least `low` when given (ValueError naming the field otherwise)."""
    try:
        value = int(text.strip())
    except ValueError:
        raise ValueError(f"{name} must be a whole number") from None
    if low is not None and value < low:
        raise ValueError(f"{name} must be {low} or more")
    return value


def _keys(text: str) -> tuple[str, ...]:
    """Comma-separated keys, blanks dropped."""
    return tuple(k.strip() for k in text.split(",") if k.strip())


class ContextToolsScreen(ModalScreen[None]):
    """The document's memory, author's note and lorebook."""

    DEFAULT_CSS = """
    ContextToolsScreen { align: center middle; }
    ContextToolsScreen > Vertical { width: 110; max-width: 100%; height: 95%; border: thick $primary;
                                    background: $surface; padding: 0 1; }
    ContextToolsScreen > Vertical > Label { width: 100%; }
    ContextToolsScreen Label.heading { margin-top: 1; text-style: bold; }
    ContextToolsScreen #memory { height: 5; }
    ContextToolsScreen #entry-text { height: 5; }
    ContextToolsScreen #entries { width: 36; height: 20; }
    ContextToolsScreen #entry-fields { width: 1fr; height: auto; }
    ContextToolsScreen Horizontal { height: auto; }
    ContextToolsScreen Input { width: 1fr; }
    ContextToolsScreen Input.short { width: 16; }
    ContextToolsScreen Checkbox { width: auto; }
    ContextToolsScreen #context-error { color: $error; height: auto; }
    """
    BINDINGS = CONTEXT_TOOLS_BINDINGS

    def __init__(self, tools: ContextTools, title: str, on_change: Callable[[ContextTools], None]) -> None:
        super().__init__()
        self.tools = tools
        self.title_text = title
        self.on_change = on_change
        self.current: int | None = 0 if tools.lorebook.entries else None

    def compose(self) -> ComposeResult:
        t = self.tools
        book = t.lorebook
        with Vertical():
            keys = {name: escape(hint_key(self, f"context_{name}")) for name in ("add_entry", "delete_entry", "close")}
            yield Label(f"[b]Context tools[/b] of {escape(self.title_text)}  tab moves · {keys['add_entry']} new entry · "
                        f"{keys['delete_entry']} delete entry · {keys['close']} closes · every change is saved",
                        markup=True)
            yield Static("", id="context-error", markup=False)
            with VerticalScroll():
                yield Label("Memory: always at the top of the prompt", classes="heading")
                yield TextArea(t.memory, id="memory", soft_wrap=True)
                yield Label("Author's note, and how many paragraphs before the end it goes", classes="heading")
                with Horizontal():
                    yield Input(t.note, placeholder="[Style: terse. Mood: dread.]", id="note")
                    yield Input(str(t.note_depth), id="note-depth", classes="short", tooltip="depth in paragraphs")
                yield Label("Lorebook: scan depth (tokens) · budget (tokens) · recursive", classes="heading")
                with Horizontal():
                    yield Input(str(book.scan_depth), id="scan-depth", classes="short")
                    yield Input(str(book.budget), id="lore-budget", classes="short")
                    yield Checkbox("one entry can trigger another", book.recursive, id="recursive")
                with Horizontal():
                    yield OptionList(*[Option(entry_option(e)) for e in book.entries], id="entries")
                    with Vertical(id="entry-fields"):
                        yield Input(placeholder="name", id="entry-name")
                        yield Input(placeholder="keys, comma-separated (/regex/i for a pattern)", id="entry-keys")
                        yield Input(placeholder="secondary keys: one must match too (blank: none)",
                                    id="entry-secondary")
                        with Horizontal():
                            yield Input(placeholder="order", id="entry-order", classes="short")
                            yield Input(placeholder="lorebook's", id="entry-scan-depth", classes="short")
                            yield Checkbox("always on", id="entry-always")
                        with Horizontal():
                            yield Checkbox("case-sensitive", id="entry-case")
                            yield Checkbox("enabled", True, id="entry-enabled")
                        yield TextArea("", id="entry-text", soft_wrap=True)

    def on_mount(self) -> None:
        titles = {"#note-depth": "depth", "#scan-depth": "scan depth", "#lore-budget": "budget", "#entry-name": "name",
                  "#entry-keys": "keys", "#entry-secondary": "secondary keys", "#entry-order": "order",
                  "#entry-scan-depth": "scan depth"}
        for selector, title in titles.items():
            self.query_one(selector, Input).border_title = title
        self._show_entry()
        self.query_one("#memory", TextArea).focus()

    # --- the entry the fields edit

    def _show_entry(self) -> None:
        """Fill the entry fields from the current entry (blank and disabled when there is none)."""
        entries = self.tools.lorebook.entries
        entry = entries[self.current] if self.current is not None else None
        fields = self.query_one("#entry-fields", Vertical)
        fields.disabled = entry is None
        entry = entry or LoreEntry()
        self.query_one("#entry-name", Input).value = entry.name
        self.query_one("#entry-keys", Input).value = ", ".join(entry.keys)
        self.query_one("#entry-secondary", Input).value = ", ".join(entry.secondary_keys)
        self.query_one("#entry-order", Input).value = str(entry.order)
        self.query_one("#entry-scan-depth", Input).value = "" if entry.scan_depth is None else str(entry.scan_depth)
        self.query_one("#entry-always", Checkbox).value = entry.always
        self.query_one("#entry-case", Checkbox).value = entry.case_sensitive
        self.query_one("#entry-enabled", Checkbox).value = entry.enabled
        self.query_one("#entry-text", TextArea).text = entry.text
        if self.current is not None:
            self.query_one("#entries", OptionList).highlighted = self.current

    @on(OptionList.OptionHighlighted, "#entries")
    def _entry_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_index != self.current:
            self.current = event.option_index
            self._show_entry()

    def action_add_entry(self) -> None:
        """A new, empty entry at the end of the list; the name field takes focus."""
        book = self.tools.lorebook
        self._apply(replace(self.tools, lorebook=book.with_entry(len(book.entries), LoreEntry())))
        self.query_one("#entries", OptionList).add_option(Option(entry_option(LoreEntry())))
        self.current = len(book.entries)
        self._show_entry()
        self.query_one("#entry-name", Input).focus()

    def action_delete_entry(self) -> None:
        """Delete the highlighted entry."""
        if self.current is None:
            return
        index = self.current
        self._apply(replace(self.tools, lorebook=self.tools.lorebook.with_entry(index, None)))
        self.query_one("#entries", OptionList).remove_option_at_index(index)
        count = len(self.tools.lorebook.entries)
        self.current = min(index, count - 1) if count else None
        self._show_entry()

    def action_close(self) -> None:
        self.dismiss(None)

    # --- changes

    @on(Input.Changed)
    @on(TextArea.Changed)
    @on(Checkbox.Changed)
    def _field_changed(self) -> None:
        try:
            tools = self._read_fields()
        except ValueError as exc:
            self.query_one("#context-error", Static).update(f"not saved: {exc}")
            return
        self.query_one("#context-error", Static).update("")
        if tools != self.tools:
            self._apply(tools)
            if self.current is not None:
                entry = tools.lorebook.entries[self.current]
                self.query_one("#entries", OptionList).replace_option_prompt_at_index(self.current, entry_option(entry))

    def _apply(self, tools: ContextTools) -> None:
        self.tools = tools
        self.on_change(tools)

    def _read_fields(self) -> ContextTools:
        """The tools as the fields show them (ValueError naming a field that does not parse)."""
        def number(selector: str, name: str) -> int:
            return _whole(self.query_one(selector, Input).value, name)

        book = self.tools.lorebook
        book = Lorebook(book.entries, scan_depth=number("#scan-depth", "scan depth"),
                        budget=number("#lore-budget", "lorebook budget"),
                        recursive=self.query_one("#recursive", Checkbox).value)
        if self.current is not None:
            depth = self.query_one("#entry-scan-depth", Input).value.strip()
            entry = replace(book.entries[self.current], name=self.query_one("#entry-name", Input).value.strip(),
                            keys=_keys(self.query_one("#entry-keys", Input).value),
                            secondary_keys=_keys(self.query_one("#entry-secondary", Input).value),
                            order=_whole(self.query_one("#entry-order", Input).value, "order", low=None),
                            scan_depth=_whole(depth, "the entry's scan depth") if depth else None,
                            always=self.query_one("#entry-always", Checkbox).value,
                            case_sensitive=self.query_one("#entry-case", Checkbox).value,
                            enabled=self.query_one("#entry-enabled", Checkbox).value,
                            text=self.query_one("#entry-text", TextArea).text)
            for key in (*entry.keys, *entry.secondary_keys):
                key_pattern(key, entry.case_sensitive)  # LorebookError (a ValueError) names a bad regular expression
            book = book.with_entry(self.current, entry)
        return ContextTools(memory=self.query_one("#memory", TextArea).text, note=self.query_one("#note", Input).value,
                            note_depth=number("#note-depth", "note depth"), lorebook=book)
