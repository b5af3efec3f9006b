"""The help screen (F1): every key of every screen (`scribe.ui.keys.KEY_GROUPS`), its binding id (to remap in
config.toml) and what it does."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from scribe.ui.keys import HELP_BINDINGS, KeyRow, hint_key


def key_table(rows: Sequence[KeyRow]) -> Group:
    """The rows under the name of the screen or widget where they apply, the columns aligned across the groups."""
    widths = {"keys": max(len(_keys(row)) for row in rows), "id": max(len(row.id) for row in rows)}
    header = _table(widths, show_header=True)
    parts: list[RenderableType] = [header]
    for where, group in groupby(rows, key=lambda row: row.where):
        table = _table(widths, show_header=False)
        for row in group:
            table.add_row(_keys(row), row.id, row.help or row.name)
        parts += [Text(""), Text(where.upper(), style="italic"), table]
    return Group(*parts)


def _keys(row: KeyRow) -> str:
    return row.keys.replace(",", ", ")


def _table(widths: dict[str, int], *, show_header: bool) -> Table:
    table = Table(box=None, pad_edge=False, expand=True, show_header=show_header, header_style="bold")
    table.add_column("keys", style="bold", no_wrap=True, width=widths["keys"])
    table.add_column("id", style="dim", no_wrap=True, width=widths["id"])
    table.add_column("what it does", ratio=1)
    return table


class HelpScreen(ModalScreen[None]):
    """Lists the keys; escape, q or F1 closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 96; max-width: 100%; height: 90%; border: thick $primary; background: $surface;
                            padding: 0 1; }
    HelpScreen #help-note { color: $text-muted; margin-bottom: 1; }
    """
    BINDINGS = HELP_BINDINGS

    def __init__(self, rows: Sequence[KeyRow], config_file: str) -> None:
        super().__init__()
        self.rows = list(rows)
        self.config_file = config_file

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]Keys[/b]  ({escape(hint_key(self, 'help_close'))} closes)")
            yield Static(f"Remap any key by its id in the [keys] table of {self.config_file} (`scribe locate config` "
                         "prints where it is), e.g. tree = \"alt+z\" or tree_delete = \"x\"; the keys below are the "
                         "ones in effect. ctrl+p opens the command palette: the actions you can use where you are.",
                         id="help-note", markup=False)
            with VerticalScroll():
                yield Static(key_table(self.rows), id="help-keys")
