"""The sweep view: the text before the cursor continued under a grid of one or two sampling settings.

Fill in one or two grids (e.g. `temperature=0.1,0.7,1.0,1.5` and `top_p=0.8,0.9,0.95`), the samples per cell and the
tokens per sample, then press enter (or ctrl+r). Cells appear as they finish, with their mean token log-probability,
distinct-1/2/3, repetition rate and self-BLEU; the highlighted cell's samples are listed below the table. Every cell
uses the same seeds (the studio's seed, or 0). Escape stops a running sweep, and closes the view when none runs.
Works with every backend: it only streams.
"""

from __future__ import annotations

import threading

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label, Static

from scribe.analysis.report import SWEEP_METRICS, number, one_line
from scribe.analysis.sweep import Axis, Cell, check_axes, grid, parse_axis
from scribe.engine.base import Backend
from scribe.sampling.params import InvalidSetting, SamplingParams
from scribe.studio.generation_runs import describe_error
from scribe.ui.keys import SWEEP_BINDINGS, hint_key


class CellDone(Message):
    """One cell of sweep `sweep` finished."""

    def __init__(self, sweep: int, index: int, total: int, cell: Cell) -> None:
        super().__init__()
        self.sweep, self.index, self.total, self.cell = sweep, index, total, cell


class SweepEnded(Message):
    """Sweep `sweep` finished, was stopped, or failed (`error`)."""

    def __init__(self, sweep: int, error: str | None = None) -> None:
        super().__init__()
        self.sweep, self.error = sweep, error


class SweepScreen(Screen[None]):
    """A sampling grid on the studio's prompt."""

    DEFAULT_CSS = """
    SweepScreen #sweep-form { height: auto; padding: 0 1; }
    SweepScreen #sweep-form Input { width: 1fr; }
    SweepScreen #sweep-form .small { width: 12; }
    SweepScreen #sweep-status { height: auto; padding: 0 1; }
    SweepScreen #sweep-table { height: 1fr; }
    SweepScreen #sweep-samples { height: 1fr; border: round $primary; padding: 0 1; }
    """
    BINDINGS = SWEEP_BINDINGS

    def __init__(self, backend: Backend | None, lock: threading.Lock, prompt: str, params: SamplingParams) -> None:
        super().__init__()
        self.backend, self.lock, self.prompt, self.params = backend, lock, prompt, params
        self.cells: list[Cell] = []
        self.axes: tuple[Axis, ...] = ()
        self.running = False
        self._sweep = 0
        self._cancel = threading.Event()

    def compose(self) -> ComposeResult:
        with Horizontal(id="sweep-form"):
            yield Input("temperature=0.1,0.7,1.0,1.5", placeholder="first grid, NAME=V1,V2,...", id="grid-1")
            yield Input("", placeholder="second grid (optional), e.g. top_p=0.8,0.9,0.95", id="grid-2")
            yield Input("3", placeholder="samples", id="samples", classes="small", type="integer")
            yield Input("30", placeholder="tokens", id="tokens", classes="small", type="integer")
        yield Label("", id="sweep-status")
        yield DataTable(id="sweep-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="sweep-samples"):
            yield Static("", id="sweep-samples-text")
        yield Footer()

    def on_mount(self) -> None:
        words = len(self.prompt.split())
        self.status(f"prompt: the {words} words before the cursor · enter or {hint_key(self, 'sweep_run')} runs · "
                    f"{hint_key(self, 'sweep_close')} stops or closes")
        self.query_one("#grid-1", Input).focus()

    def status(self, text: str) -> None:
        """Show one line above the table."""
        self.query_one("#sweep-status", Label).update(Text(text))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_run()

    def action_run(self) -> None:
        """Start a sweep with the form's settings (a running one is stopped first)."""
        if self.backend is None:
            self.status(f"no model loaded yet (the status bar says whether one is loading; "
                        f"{hint_key(self, 'settings')} chooses one)")
            return
        try:
            specs = [self.query_one(f"#grid-{i}", Input).value.strip() for i in (1, 2)]
            axes = tuple(parse_axis(spec) for spec in specs if spec)
            check_axes(axes)
            samples = int(self.query_one("#samples", Input).value or 0)
            tokens = int(self.query_one("#tokens", Input).value or 0)
            if samples < 1 or tokens < 1:
                raise InvalidSetting("samples and tokens must be 1 or more")
            base = self.params.replace(max_new_tokens=tokens)
        except (InvalidSetting, ValueError) as exc:
            self.status(f"not run: {exc}")
            return
        self._cancel.set()
        self._cancel = threading.Event()
        self._sweep += 1
        self.axes, self.cells, self.running = axes, [], True
        table = self.query_one("#sweep-table", DataTable)
        table.clear(columns=True)
        table.add_columns(*(axis.name for axis in axes), *SWEEP_METRICS, "first sample")
        self.query_one("#sweep-samples-text", Static).update("")
        seed = self.params.seed if self.params.seed is not None else 0
        self.status(f"running: 0 of {len(grid(axes))} cells · seed {seed} · {hint_key(self, 'sweep_close')} stops")
        self._sweep_worker(self._sweep, axes, base, samples, seed, self._cancel)

    @work(thread=True, exclusive=True, exit_on_error=False, group="sweep", description="sweep")
    def _sweep_worker(self, sweep: int, axes: tuple[Axis, ...], base: SamplingParams, samples: int, seed: int,
                      cancel: threading.Event) -> None:
        from scribe.analysis.sweep import run_sweep

        assert self.backend is not None
        try:
            with self.lock:
                run_sweep(self.backend, self.prompt, base, axes, samples, seed=seed, cancel=cancel,
                          on_cell=lambda i, n, cell: self.post_message(CellDone(sweep, i, n, cell)))
        except Exception as exc:  # shown in the view
            self.post_message(SweepEnded(sweep, describe_error(exc)))
            return
        self.post_message(SweepEnded(sweep))

    def on_cell_done(self, message: CellDone) -> None:
        if message.sweep != self._sweep:
            return
        cell = message.cell
        self.cells.append(cell)
        values = [cell.mean_logprob, *cell.distinct, cell.repetition_rate, cell.self_bleu]
        first = one_line(cell.samples[0].text, 60) if cell.samples else ""
        self.query_one("#sweep-table", DataTable).add_row(
            *(str(cell.settings[axis.name]) for axis in self.axes), *(number(v) for v in values), first)
        self.status(f"running: {message.index + 1} of {message.total} cells · {hint_key(self, 'sweep_close')} stops")
        if len(self.cells) == 1:
            self.show_samples(0)

    def on_sweep_ended(self, message: SweepEnded) -> None:
        if message.sweep != self._sweep:
            return
        self.running = False
        total = len(grid(self.axes))
        if message.error:
            self.status(f"sweep failed after {len(self.cells)} of {total} cells: {message.error}")
        else:
            done = "done" if len(self.cells) == total else "stopped"
            self.status(f"{done}: {len(self.cells)} of {total} cells · ↑↓ choose a cell to read its samples")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_samples(event.cursor_row)

    def show_samples(self, index: int) -> None:
        """List the samples of cell `index` below the table."""
        if not 0 <= index < len(self.cells):
            return
        cell = self.cells[index]
        text = Text(" ".join(f"{name}={value}" for name, value in cell.settings.items()) + "\n", style="bold")
        for sample in cell.samples:
            text.append(f"[seed {sample.seed}, {sample.tokens} tokens, mean log-prob {number(sample.mean_logprob)}]\n",
                        style="dim")
            text.append(sample.text.strip() + "\n\n")
        self.query_one("#sweep-samples-text", Static).update(text)

    def action_stop_or_close(self) -> None:
        """Stop a running sweep; close the view when none runs."""
        if self.running:
            self._cancel.set()
        else:
            self.app.pop_screen()

    def on_unmount(self) -> None:
        self._cancel.set()

