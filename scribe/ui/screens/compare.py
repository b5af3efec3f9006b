"""Compare: the same prompt, the same seed, 2-4 presets side by side, with where the outputs first diverge marked.

Space ticks presets, r runs them (one after the other, on the loaded model), 1-4 keeps that column as a branch of the
prompt, escape goes back. Each column shows the common start plainly and, from the first character where the outputs
stop agreeing, a ▌ marker and the rest highlighted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Label, SelectionList, Static

from scribe.engine.base import StreamEnd, TokenStep
from scribe.sampling.params import SamplingParams
from scribe.studio.compare import first_divergence, token_at
from scribe.studio.presets import Preset
from scribe.ui.keys import COMPARE_BINDINGS, hint_key

MIN_PRESETS, MAX_PRESETS = 2, 4
Runner = Callable[[SamplingParams, threading.Event], tuple[list[TokenStep], StreamEnd]]
"""Generates the compared prompt's continuation under some settings (runs in a thread; holds the model's lock)."""


@dataclass(frozen=True)
class CompareResult:
    """One column: the preset, the exact settings (seed included) and what they produced."""

    preset: str
    params: SamplingParams
    steps: tuple[TokenStep, ...]
    end: StreamEnd


def marked_text(text: str, divergence: int | None) -> Text:
    """The output with its divergent part marked."""
    if divergence is None:
        return Text(text)
    marked = Text(text[:divergence])
    marked.append("▌", style="bold red")
    marked.append(text[divergence:], style="bold underline")
    return marked


class CompareScreen(Screen[CompareResult | None]):
    """Dismisses with the result the writer keeps as a branch, or None."""

    DEFAULT_CSS = """
    CompareScreen SelectionList { height: auto; max-height: 8; border: round $primary-darken-2; }
    CompareScreen SelectionList > .selection-list--button,
    CompareScreen SelectionList > .selection-list--button-highlighted { color: $panel; background: $panel; }
    CompareScreen SelectionList > .selection-list--button-selected,
    CompareScreen SelectionList > .selection-list--button-selected-highlighted {
        color: $success; background: $panel; text-style: bold;
    }
    CompareScreen #compare-summary { height: auto; padding: 0 1; }
    CompareScreen #compare-columns { height: 1fr; }
    CompareScreen .compare-column { width: 1fr; border: round $primary; padding: 0 1; }
    """
    BINDINGS = COMPARE_BINDINGS

    class Finished(Message):
        """Column `index` is done."""

        def __init__(self, run: int, index: int, result: CompareResult) -> None:
            super().__init__()
            self.run = run
            self.index = index
            self.result = result

    def __init__(self, presets: dict[str, Preset], base: SamplingParams, seed: int, runner: Runner,
                 ticked: Sequence[str] = ("precise", "balanced", "creative")) -> None:
        super().__init__()
        self.presets = presets
        self.base = base
        self.seed = seed
        self.runner = runner
        self.ticked = [name for name in ticked if name in presets]
        self.results: list[CompareResult | None] = []
        self._run = 0
        self._cancel = threading.Event()

    def compose(self) -> ComposeResult:
        with Vertical():
            keys = {name: escape(hint_key(self, f"compare_{name}")) for name in ("run", "keep_1", "keep_4", "close")}
            yield Label(f" [b]Compare[/b]  seed {self.seed} · space ticks 2-4 presets · {keys['run']} runs · "
                        f"{keys['keep_1']}-{keys['keep_4']} keeps a column · {keys['close']} back")
            yield SelectionList[str](*((name, name, name in self.ticked) for name in self.presets), id="compare-presets")
            yield Static("", id="compare-summary")
            yield Horizontal(id="compare-columns")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    @property
    def divergence(self) -> int | None:
        """Where the finished outputs first differ (None while running or when they agree)."""
        if not self.results or any(r is None for r in self.results):
            return None
        return first_divergence([r.end.text for r in self.results if r is not None])

    async def action_run(self) -> None:
        """Run the ticked presets with the same seed."""
        names = list(self.query_one(SelectionList).selected)
        if not MIN_PRESETS <= len(names) <= MAX_PRESETS:
            self.notify(f"tick {MIN_PRESETS} to {MAX_PRESETS} presets (space), then r", severity="warning")
            return
        self._cancel.set()
        self._cancel = threading.Event()
        self._run += 1
        self.results = [None] * len(names)
        columns = self.query_one("#compare-columns", Horizontal)
        await columns.remove_children()
        for index, name in enumerate(names):
            column = VerticalScroll(Static("…", classes="compare-text"), classes="compare-column", id=f"compare-{index}")
            column.border_title = f"{index + 1} · {name}"
            await columns.mount(column)
        self.query_one("#compare-summary", Static).update(Text(f"running {len(names)} presets with seed {self.seed}…"))
        jobs = [(name, self.presets[name].apply(self.base).replace(seed=self.seed)) for name in names]
        self._compare_worker(self._run, jobs, self._cancel)

    @work(thread=True, exclusive=True, exit_on_error=False, group="compare", description="compare presets")
    def _compare_worker(self, run: int, jobs: list[tuple[str, SamplingParams]], cancel: threading.Event) -> None:
        for index, (name, params) in enumerate(jobs):
            if cancel.is_set():
                return
            steps, end = self.runner(params, cancel)
            self.post_message(self.Finished(run, index, CompareResult(name, params, tuple(steps), end)))

    def on_compare_screen_finished(self, message: Finished) -> None:
        if message.run != self._run:
            return
        self.results[message.index] = message.result
        self._show()

    def _show(self) -> None:
        divergence = self.divergence
        for index, result in enumerate(self.results):
            if result is None:
                continue
            column = self.query_one(f"#compare-{index}", VerticalScroll)
            column.query_one(".compare-text", Static).update(marked_text(result.end.text, divergence))
            column.border_subtitle = f"{result.end.tokens} tokens · {result.end.reason}"
        if any(r is None for r in self.results):
            return
        summary = self.query_one("#compare-summary", Static)
        if divergence is None:
            summary.update(Text("the outputs are identical", style="bold"))
            return
        first = self.results[0]
        assert first is not None
        token = token_at([s.text for s in first.steps], divergence)
        summary.update(Text.assemble(("the outputs first diverge at character ", ""), (str(divergence), "bold"),
                                     (f" (token {token + 1} of column 1), marked ▌", "")))

    def action_keep(self, index: int) -> None:
        """Keep column `index` as a branch of the prompt."""
        if index < len(self.results) and self.results[index] is not None:
            self._cancel.set()
            self.dismiss(self.results[index])

    def action_close(self) -> None:
        """Back without keeping anything."""
        self._cancel.set()
        self.dismiss(None)
