"""The evaluation view: several models scored on the same files in one table, as `scribe eval` prints it
(sliding-window perplexity, bits per character, and generation tokens/s).

Type the models (names or folders, separated by spaces or commas; the studio's model to start with) and the files
(paths, folders or globs), then press enter or ctrl+r. Each model is loaded on its own in a worker, scored, timed and
closed; rows appear as they finish, and a model that cannot be scored says why without stopping the others. The
status line says what is loading and how many tokens are scored.

Escape stops at once, even in the middle of a model (a second escape closes the view); ctrl+q stops it and quits the
studio (which asks first about unsaved changes); leaving the view stops it too. Each model is scored in a daemon
thread that checks the cancel event between windows; the Textual worker only waits for it, so it returns as soon as
the event is set and never holds up the app's exit.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label

from scribe.analysis.comparison import COLUMNS, row_cells
from scribe.studio.generation_runs import describe_error
from scribe.ui.keys import EVALUATION_BINDINGS, hint_key


class ModelScored(Message):
    """One model of evaluation `run` finished: its row, or why it failed."""

    def __init__(self, run: int, name: str, row: dict[str, Any] | None, error: str | None = None) -> None:
        super().__init__()
        self.run, self.name, self.row, self.error = run, name, row, error


class EvaluationEnded(Message):
    """Evaluation `run` finished, or was `stopped`."""

    def __init__(self, run: int, stopped: bool = False) -> None:
        super().__init__()
        self.run, self.stopped = run, stopped


class EvaluationStatus(Message):
    """What evaluation `run` is doing now (loading, tokens scored)."""

    def __init__(self, run: int, text: str) -> None:
        super().__init__()
        self.run, self.text = run, text


PROGRESS_INTERVAL = 0.25
"""Seconds between progress updates of the status line."""
POLL_INTERVAL = 0.05
"""Seconds the worker waits for a model's thread before looking at the cancel event again."""


class EvaluationScreen(Screen[None]):
    """Models against models on the same files."""

    DEFAULT_CSS = """
    EvaluationScreen #eval-form { height: auto; padding: 0 1; }
    EvaluationScreen #eval-form Input { width: 1fr; }
    EvaluationScreen #eval-form .small { width: 12; }
    EvaluationScreen #eval-status { height: auto; padding: 0 1; }
    EvaluationScreen #eval-table { height: 1fr; }
    """
    BINDINGS = EVALUATION_BINDINGS

    def __init__(self, models: str, device: str) -> None:
        super().__init__()
        self.models, self.device = models, device
        self.rows: list[dict[str, Any]] = []
        self.failures: dict[str, str] = {}
        self.running = False
        self._run = 0
        self._cancel = threading.Event()

    def compose(self) -> ComposeResult:
        with Horizontal(id="eval-form"):
            yield Input(self.models, placeholder="models, e.g. scribe-gutenberg gpt2", id="eval-models")
            yield Input("", placeholder="text files, folders or globs", id="eval-files")
            yield Input("64", placeholder="tokens/s over", id="eval-speed", classes="small", type="integer")
        yield Label("", id="eval-status")
        yield DataTable(id="eval-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.status(f"models and files, then enter or {hint_key(self, 'evaluation_run')} · "
                    f"{hint_key(self, 'evaluation_close')} stops or closes")
        self.query_one("#eval-files", Input).focus()

    def status(self, text: str) -> None:
        """Show one line above the table."""
        self.query_one("#eval-status", Label).update(Text(text))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_run()

    def action_run(self) -> None:
        """Score the models on the files (a running evaluation is stopped first)."""
        models = [m for m in re.split(r"[\s,]+", self.query_one("#eval-models", Input).value) if m]
        files = self.query_one("#eval-files", Input).value.split()
        speed = int(self.query_one("#eval-speed", Input).value or 0)
        if not models or not files:
            self.status("not run: give at least one model and one file")
            return
        self._cancel.set()
        self._cancel = threading.Event()
        self._run += 1
        self.rows, self.failures, self.running = [], {}, True
        table = self.query_one("#eval-table", DataTable)
        table.clear(columns=True)
        table.add_columns(*COLUMNS)
        self.status(f"scoring {len(models)} model(s)… · {hint_key(self, 'evaluation_close')} stops")
        self._eval_worker(self._run, models, files, speed, self._cancel)

    @work(thread=True, exclusive=True, exit_on_error=False, group="evaluation", description="evaluate models")
    def _eval_worker(self, run: int, models: list[str], files: list[str], speed: int, cancel: threading.Event) -> None:
        for name in models:
            if cancel.is_set():
                break
            outcome: dict[str, Any] = {}
            done = threading.Event()
            threading.Thread(target=self._score_one, args=(run, name, files, speed, cancel, outcome, done),
                             name=f"evaluate {name}", daemon=True).start()
            while not done.wait(POLL_INTERVAL) and not cancel.is_set():
                pass
            if not done.is_set():
                break  # stopped mid-model: the thread ends at its next window, nobody waits for it
            if "error" in outcome:  # one model failing leaves the others to run
                self.post_message(ModelScored(run, name, None, outcome["error"]))
            else:
                self.post_message(ModelScored(run, name, outcome["row"]))
        self.post_message(EvaluationEnded(run, stopped=cancel.is_set()))

    def _score_one(self, run: int, name: str, files: list[str], speed: int, cancel: threading.Event,
                   outcome: dict[str, Any], done: threading.Event) -> None:
        """Score one model into `outcome` ("row" or "error"), reporting progress, then set `done`."""
        from scribe.analysis.comparison import compare_model
        from scribe.training.evaluate import ScoringCancelled

        last = 0.0

        def progress(tokens: int, fraction: float) -> None:
            nonlocal last
            if time.monotonic() - last >= PROGRESS_INTERVAL:
                last = time.monotonic()
                self.post_message(EvaluationStatus(run, f"{name}: {tokens:,} tokens scored · {fraction:.0%} · "
                                                        "escape stops"))

        def status(text: str) -> None:
            self.post_message(EvaluationStatus(run, text))

        try:
            outcome["row"] = compare_model(name, files, device=self.device, speed_tokens=speed, cancel=cancel,
                                           progress=progress, status=status)
        except ScoringCancelled:
            outcome["error"] = "stopped"
        except Exception as exc:  # reported in the view
            outcome["error"] = describe_error(exc)
        finally:
            done.set()

    def on_evaluation_status(self, message: EvaluationStatus) -> None:
        if message.run == self._run and self.running:
            self.status(message.text)

    def on_model_scored(self, message: ModelScored) -> None:
        if message.run != self._run:
            return
        if message.row is None:
            self.failures[message.name] = message.error or "failed"
            self.status(f"{message.name}: {message.error}")
            return
        self.rows.append(message.row)
        self.query_one("#eval-table", DataTable).add_row(*row_cells(message.row))

    def on_evaluation_ended(self, message: EvaluationEnded) -> None:
        if message.run != self._run:
            return
        self.running = False
        failed = "; ".join(f"{name}: {error}" for name, error in self.failures.items())
        self.status(("stopped · " if message.stopped else "") + f"{len(self.rows)} model(s) scored"
                    + (f" · not scored: {failed}" if failed else ""))

    def action_stop_or_close(self) -> None:
        """Stop at once, even mid-model; close the view when nothing runs."""
        if self.running:
            self._cancel.set()
            self.status("stopping…")
        else:
            self.app.pop_screen()

    async def action_stop_and_quit(self) -> None:
        """Stop at once, close the view and quit the studio (the studio's quit applies on its main screen)."""
        self._cancel.set()
        app = self.app
        app.pop_screen()
        await app.action_quit()

    def on_unmount(self) -> None:
        self._cancel.set()
