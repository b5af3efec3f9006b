"""The help screen (F1): every key of the studio, its binding id (to remap in config.toml) and what it does."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from scribe.ui.keys import KeyRow


def key_table(rows: Sequence[KeyRow]) -> Table:
    """The rows as a table grouped by where the keys apply."""
    table = Table(box=None, pad_edge=False, expand=True, show_header=True, header_style="bold")
    table.add_column("keys", style="bold", no_wrap=True)
    table.add_column("id", style="dim", no_wrap=True)
    table.add_column("what it does", ratio=1)
    where = None
    for row in rows:
        if row.where != where:
            where = row.where
            table.add_row(where.upper(), "", "", style="italic")
        table.add_row(row.keys.replace(",", ", "), row.id, row.help or row.name)
    return table


class HelpScreen(ModalScreen[None]):
    """Lists the keys; escape, q or F1 closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 96; max-width: 100%; height: 90%; border: thick $primary; background: $surface;
                            padding: 0 1; }
    HelpScreen #help-note { color: $text-muted; margin-bottom: 1; }
    """
    BINDINGS = [Binding("escape,q,f1", "dismiss(None)", "Close", id="help_close", tooltip="Close the help screen")]

    def __init__(self, rows: Sequence[KeyRow], config_file: str) -> None:
        super().__init__()
        self.rows = list(rows)
        self.config_file = config_file

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Keys[/b]  (escape closes)")
            yield Static(f"Remap any key by its id in the [keys] table of {self.config_file} (`scribe locate config` "
                         "prints where it is), e.g. tree = \"f12\". ctrl+p opens the command palette, which lists "
                         "every action.", id="help-note", markup=False)
            with VerticalScroll():
                yield Static(key_table(self.rows), id="help-keys")
