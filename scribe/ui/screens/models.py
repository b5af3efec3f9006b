"""The model picker (f11, alt+o): every model scribe can use in one table, and downloads from the Hugging Face Hub.

The table is `scribe models list` (scribe.store.catalog): bundled models, models scribe trained (transformers and
Keras), GGUF files (in scribe's models folder and the folders of the `gguf_folders` setting), the Hugging Face cache,
remote endpoints, and the GPT-2 family offered for download, each with its source,
status, size on disk (or download size), parameters, context length, tokenizer and location. It is read in a thread
worker; ctrl+r reads it again.

Enter on a usable model closes the picker and the studio loads it (as a model typed in the settings panel). Enter on a
model not downloaded, or on an incomplete download, downloads it; so does a repository id typed below
(`REPO[@REVISION]`). The download (scribe.store.hub.pull) runs in a thread worker and reports at most ten times a
second to a progress bar with bytes, speed and ETA. Escape cancels it: what arrived stays in the cache, and
downloading the same model again resumes there. When nothing downloads, escape closes the picker. A failed download
says why in one line (unknown repository, access denied, hub unreachable, disk full, interrupted).

| id               | keys       | what it does                                                 |
|------------------|------------|--------------------------------------------------------------|
| `models`         | f11, alt+o | open the picker (from the studio)                            |
| `models_refresh` | ctrl+r     | list the models again                                        |
| `models_close`   | escape     | cancel the download (kept for resuming), or close the picker |
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label, ProgressBar, Static

from scribe.ui.keys import MODELS_BINDINGS
from scribe.studio.generation_runs import describe_error

if TYPE_CHECKING:  # the catalog and the hub client are imported by the workers, so the studio starts without them
    from scribe.store.catalog import CatalogEntry
    from scribe.store.hub import DownloadProgress


class ModelsListed(Message):
    """The model list for request `request`: the entries, the table's columns and cells, and the row of the studio's
    model (or why the list could not be read)."""

    def __init__(self, request: int, entries: list[CatalogEntry], columns: tuple[str, ...], rows: list[tuple[str, ...]],
                 current: int | None, error: str | None = None) -> None:
        super().__init__()
        self.request, self.entries, self.columns, self.rows = request, entries, columns, rows
        self.current, self.error = current, error


class DownloadProgressed(Message):
    """Where download `run` stands."""

    def __init__(self, run: int, progress: DownloadProgress) -> None:
        super().__init__()
        self.run, self.progress = run, progress


class DownloadEnded(Message):
    """Download `run` of `name` finished (`select`: the name its model is listed under), failed or was cancelled;
    `text` says which in one line."""

    def __init__(self, run: int, name: str, text: str, *, select: str | None = None,
                 severity: SeverityLevel = "error") -> None:
        super().__init__()
        self.run, self.name, self.text, self.select, self.severity = run, name, text, select, severity


def downloadable(entry: CatalogEntry) -> bool:
    """True for a model offered for download and for an incomplete download in the Hugging Face cache."""
    return entry.source == "offered" or (entry.source == "hf-cache" and not entry.usable)


def entry_detail(entry: CatalogEntry) -> Text:
    """What the picker says under the table about the highlighted model, and what enter does with it."""
    text = Text(entry.name, style="bold")
    if entry.aliases:
        text.append(f" (also {', '.join(entry.aliases)})", style="dim")
    text.append(f"  {entry.kind}, {entry.source}: {entry.status}\n")
    if entry.description:
        text.append(entry.description + "\n", style="italic")
    text.append(entry.location + "\n", style="dim")
    if entry.usable:
        text.append("enter: write with it", style="green")
    elif downloadable(entry):
        text.append("enter: download it" + (" (resumes what is there)" if entry.source == "hf-cache" else ""),
                    style="yellow")
    else:
        text.append("cannot be used as it is", style="red")
    return text


class ModelsScreen(Screen["str | None"]):
    """Every model; dismissed with the name of the model to write with, or None."""

    DEFAULT_CSS = """
    ModelsScreen #models-hint { height: auto; padding: 0 1; color: $text-muted; }
    ModelsScreen #models-table { height: 1fr; }
    ModelsScreen #models-detail { height: auto; max-height: 6; padding: 0 1; border-top: solid $primary-darken-2; }
    ModelsScreen #models-download { height: auto; padding: 0 1; display: none; }
    ModelsScreen #models-download.-shown { display: block; }
    ModelsScreen #models-progress { width: auto; }
    ModelsScreen #models-progress-text { width: 1fr; padding-left: 2; }
    ModelsScreen #models-repo { margin: 0 1; }
    ModelsScreen #models-status { height: auto; padding: 0 1; }
    """
    BINDINGS = MODELS_BINDINGS

    def __init__(self, current_model: str, gguf_folders: Sequence[str] = ()) -> None:
        """`current_model` is the studio's model setting (marked in the table); the GGUF files in `gguf_folders` (the
        setting) are listed too."""
        super().__init__()
        self.current_model = current_model
        self.gguf_folders = list(gguf_folders)
        self.entries: list[CatalogEntry] = []
        self.downloading: str | None = None
        """The name being downloaded (None when no download runs)."""
        self._list_request = 0
        self._list_error: str | None = None
        self._select: tuple[str, ...] = ()
        """Names to put the cursor on once the list is read, the first one listed wins."""
        self._run = 0
        self._cancel = threading.Event()

    def compose(self) -> ComposeResult:
        yield Label("[b]Models[/b]  enter: write with it, or download it · tab: type a repository id · "
                    "escape: cancel the download, or close", id="models-hint")
        yield DataTable(id="models-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="models-detail")
        with Horizontal(id="models-download"):
            yield ProgressBar(id="models-progress", show_eta=False)
            yield Label("", id="models-progress-text")
        yield Input(placeholder="download from the Hugging Face Hub: REPO[@REVISION], e.g. openai-community/gpt2",
                    id="models-repo")
        yield Label("reading the model folders…", id="models-status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#models-table", DataTable).focus()
        self.action_refresh()

    def _show_status(self) -> None:
        """The line under the input: the list's size (or why it could not be read) and the download running."""
        if self._list_error:
            text = f"the model list could not be read: {self._list_error}"
        else:
            text = f"{len(self.entries)} models, {sum(e.usable for e in self.entries)} ready to write with"
        if self.downloading:
            text += f" · downloading {self.downloading}: escape cancels it (what arrived is kept for resuming)"
        self.query_one("#models-status", Label).update(Text(text))

    # --- the list

    def action_refresh(self, select: str | None = None) -> None:
        """Read the model list again in a worker; then put the cursor on `select` (a name or alias), else on the
        highlighted model, else on the studio's."""
        self._list_request += 1
        highlighted = self.highlighted()
        self._select = tuple(name for name in (select, highlighted and highlighted.name) if name)
        self._list_worker(self._list_request, self.current_model)

    @work(thread=True, exclusive=True, exit_on_error=False, group="models-list", description="list models")
    def _list_worker(self, request: int, current_model: str) -> None:
        from scribe.store.catalog import COLUMNS, entry_row, list_models

        try:
            entries = list_models(gguf_folders=self.gguf_folders)
        except Exception as exc:  # an unreadable folder must not take the studio down
            self.post_message(ModelsListed(request, [], COLUMNS, [], None, describe_error(exc)))
            return
        folder = str(Path(current_model).expanduser().resolve())
        current = next((i for i, e in enumerate(entries)
                        if current_model in (e.name, *e.aliases) or e.location == folder), None)
        self.post_message(ModelsListed(request, entries, COLUMNS, [entry_row(e) for e in entries], current))

    def on_models_listed(self, message: ModelsListed) -> None:
        if message.request != self._list_request:
            return
        self.entries, self._list_error = message.entries, message.error
        table = self.query_one("#models-table", DataTable)
        rows = [(Text(cells[0] + ("  ◀ now" if number == message.current else ""),
                      style="bold" if entry.usable else "dim"), *map(Text, cells[1:]))
                for number, (entry, cells) in enumerate(zip(message.entries, message.rows))]
        # Each column as wide as its widest cell, given up front: a table left to measure its columns when idle was
        # sometimes drawn at the headers' widths and stayed so (seen under load in the picker's test)
        table.clear(columns=True)
        for index, label in enumerate(message.columns):
            table.add_column(label, width=max([len(label)] + [line[index].cell_len for line in rows]))
        for line in rows:
            table.add_row(*line)
        found = (i for name in self._select for i, e in enumerate(self.entries) if name in (e.name, *e.aliases))
        row = next(found, message.current)
        if row is not None:
            table.move_cursor(row=row)
        self._show_status()

    def highlighted(self) -> CatalogEntry | None:
        """The model under the table's cursor."""
        row = self.query_one("#models-table", DataTable).cursor_row
        return self.entries[row] if 0 <= row < len(self.entries) else None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        entry = self.highlighted()
        self.query_one("#models-detail", Static).update(entry_detail(entry) if entry is not None else "")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        entry = self.highlighted()
        if entry is None:
            return
        if downloadable(entry):
            self.download(entry.name)
        elif not entry.usable:
            self.notify(f"{entry.name} cannot be used: {entry.status}", severity="warning", markup=False)
        elif self.downloading:
            self.notify(f"downloading {self.downloading}: wait for it, or escape cancels it", markup=False)
        else:
            self.dismiss(entry.name)

    # --- downloads

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.download(event.value.strip())

    def download(self, name: str) -> None:
        """Download `name` (REPO[@REVISION] or a GPT-2 family name) in a worker; one download at a time."""
        if self.downloading:
            self.notify(f"downloading {self.downloading}: one download at a time (escape cancels it)", markup=False)
            return
        self.downloading = name
        self._cancel = threading.Event()
        self._run += 1
        bar = self.query_one("#models-progress", ProgressBar)
        bar.update(total=None, progress=0)
        bar.display = True
        self.query_one("#models-progress-text", Label).update(Text(f"{name}: asking the hub for its files…"))
        self.query_one("#models-download").add_class("-shown")
        self._show_status()
        self._download_worker(self._run, name, self._cancel)

    @work(thread=True, exclusive=True, exit_on_error=False, group="download", description="download model")
    def _download_worker(self, run: int, name: str, cancel: threading.Event) -> None:
        from scribe.store.hub import DownloadCancelled, format_bytes, pull  # huggingface_hub only when pull runs

        last: list[DownloadProgress] = []

        def report(progress: DownloadProgress) -> None:  # the hub calls it at most ten times a second
            last[:] = [progress]
            self.post_message(DownloadProgressed(run, progress))

        try:
            pulled = pull(name, progress=report, cancel=cancel)
        except DownloadCancelled:
            kept = f"the {format_bytes(last[0].done_bytes)} downloaded so far stay" if last else "what arrived stays"
            self.post_message(DownloadEnded(run, name, f"download of {name} cancelled: {kept} in the Hugging Face "
                                            "cache, and downloading it again resumes there", severity="warning"))
        except Exception as exc:  # every failure is one line for the writer; the studio keeps running
            title = getattr(exc, "title", "download failed")
            self.post_message(DownloadEnded(run, name, f"{title}: {describe_error(exc)}"))
        else:
            moved = (f", {format_bytes(pulled.transferred_bytes)} transferred"
                     if pulled.transferred_bytes != pulled.total_bytes else "")
            self.post_message(DownloadEnded(
                run, name, f"downloaded {pulled.spec}: {len(pulled.files)} files, {format_bytes(pulled.total_bytes)}"
                f"{moved}; enter writes with it", select=str(pulled.spec), severity="information"))

    def on_download_progressed(self, message: DownloadProgressed) -> None:
        if message.run != self._run:
            return
        progress = message.progress
        self.query_one("#models-progress", ProgressBar).update(total=progress.total_bytes, progress=progress.done_bytes)
        self.query_one("#models-progress-text", Label).update(Text(progress.describe()))

    def on_download_ended(self, message: DownloadEnded) -> None:
        if message.run != self._run:
            return
        self.downloading = None
        bar = self.query_one("#models-progress", ProgressBar)
        bar.display = bar.total is not None  # no bar for a download that failed before its first byte
        self.query_one("#models-progress-text", Label).update(Text(message.text))
        self.notify(message.text, title="Download", severity=message.severity,
                    timeout=15 if message.severity == "error" else 5, markup=False)
        self.action_refresh(select=message.select or message.name)
        if message.select:  # done: the cursor goes to the new model, where enter writes with it
            self.query_one("#models-table", DataTable).focus()

    def action_cancel_or_close(self) -> None:
        """Cancel the download (what arrived is kept); close the picker when nothing downloads."""
        if self.downloading:
            self._cancel.set()
            self.query_one("#models-progress-text", Label).update(Text(f"cancelling the download of {self.downloading}…"))
        else:
            self.dismiss(None)

    def on_unmount(self) -> None:
        self._cancel.set()
