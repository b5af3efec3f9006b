"""What the attention and distribution views share: the text they analyse, one forward pass in a thread worker, and
moving over its tokens.

The pass runs once when the view opens (holding the app's backend lock, so it waits for a running continuation);
each move then asks a worker for the details at the new token. The pass result is an opaque handle here: the UI
only hands it back to the analysis functions, which run in the worker and return plain data. Backends that cannot
be analysed (remote servers) show why instead.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from scribe.engine.base import Backend
from scribe.engine.introspect import unavailable_reason
from scribe.ui.keys import ANALYSIS_VIEW_BINDINGS
from scribe.ui.widgets.heatmap import token_strip
from scribe.studio.generation_runs import describe_error

if TYPE_CHECKING:
    from scribe.engine.introspect import ForwardPass


@dataclass(frozen=True)
class AnalysisSource:
    """The text to analyse: the writer's text and, when one is shown, the continuation after it."""

    prompt: str = field(repr=False)
    continuation: str = field(default="", repr=False)


def source_from_app(app: Any) -> AnalysisSource:
    """The studio's text up to the cursor; with a continuation shown, the text up to where it goes plus it."""
    editor = app.editor
    continuation = app.stream_view.text if editor.mark is not None else ""
    if continuation:
        return AnalysisSource(editor.text[: editor.mark], continuation)
    return AnalysisSource(editor.text_before_cursor())


def run_pass(backend: Backend, source: AnalysisSource, lock: threading.Lock, attentions: bool) -> "ForwardPass":
    """The forward pass over the source's tokens (prompt tokens first), under the backend lock."""
    from scribe.engine.introspect import introspector

    with lock:
        inspector = introspector(backend)
        prompt = inspector.encode(source.prompt) if source.prompt else []
        whole = inspector.encode(source.prompt + source.continuation) if source.continuation else prompt
        if not whole:
            raise ValueError("nothing to analyse: write some text first (the view reads the text before the cursor)")
        return inspector.run(whole, prompt_length=len(prompt), attentions=attentions)


class PassReady(Message):
    """The forward pass finished."""

    def __init__(self, analysed: "ForwardPass") -> None:
        super().__init__()
        self.analysed = analysed


class DetailReady(Message):
    """The details at one token, computed by a worker (`request` tells stale ones apart)."""

    def __init__(self, request: int, detail: object) -> None:
        super().__init__()
        self.request = request
        self.detail = detail


class AnalysisFailed(Message):
    """The pass or a detail failed; `error` says why in one line."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class AnalysisScreen(Screen[None]):
    """A full-screen view of one analysed text; subclasses compute and show the details at the chosen token."""

    TITLE_TEXT: ClassVar[str] = "Analysis"
    ATTENTIONS: ClassVar[bool] = False
    """Whether the pass keeps attention weights."""
    DEFAULT_CSS = """
    AnalysisScreen #analysis-title { height: auto; background: $primary-background; padding: 0 1; }
    AnalysisScreen #analysis-tokens { height: auto; max-height: 9; border: round $primary; padding: 0 1; }
    AnalysisScreen #analysis-body { height: 1fr; padding: 0 1; }
    """
    BINDINGS = ANALYSIS_VIEW_BINDINGS

    def __init__(self, backend: Backend | None, lock: threading.Lock, source: AnalysisSource) -> None:
        super().__init__()
        self.backend, self.lock, self.source = backend, lock, source
        self.analysed: "ForwardPass | None" = None
        self.position = 0
        self.detail: object = None
        self.message: str | None = None
        """Why nothing is shown (unavailable, failed, still working), or None once details are shown."""
        self._request = 0

    def compose(self) -> ComposeResult:
        yield Static(self.TITLE_TEXT, id="analysis-title")
        yield Static("", id="analysis-tokens")
        with VerticalScroll(id="analysis-body"):
            yield Static("", id="analysis-detail")
        yield Footer()

    def on_mount(self) -> None:
        if self.backend is None:
            reason: str | None = "no model loaded yet (the status bar says whether one is loading; f2 chooses one)"
        else:
            reason = unavailable_reason(self.backend)
        if reason is not None:
            self.show_message(f"{self.TITLE_TEXT} unavailable: {reason}")
            return
        self.show_message("analysing the text… (waits for a running continuation to finish)")
        self._pass_worker()

    @work(thread=True, exclusive=True, exit_on_error=False, group="analysis-pass", description="analysis pass")
    def _pass_worker(self) -> None:
        assert self.backend is not None
        try:
            analysed = run_pass(self.backend, self.source, self.lock, self.ATTENTIONS)
        except Exception as exc:  # shown in the view; the studio keeps running
            self.post_message(AnalysisFailed(describe_error(exc)))
            return
        self.post_message(PassReady(analysed))

    def on_pass_ready(self, message: PassReady) -> None:
        self.analysed = message.analysed
        self.position = len(message.analysed.ids) - 1
        self.request_detail()

    def on_analysis_failed(self, message: AnalysisFailed) -> None:
        self.show_message(f"{self.TITLE_TEXT} failed: {message.error}")

    def action_move(self, step: int) -> None:
        """Choose the previous or next token."""
        if self.analysed is not None:
            self.move_to(min(max(self.position + step, 0), len(self.analysed.ids) - 1))

    def action_move_to(self, position: int) -> None:
        """Choose the first (0) or last (-1) token."""
        if self.analysed is not None:
            self.move_to(position % len(self.analysed.ids))

    def move_to(self, position: int) -> None:
        if position != self.position:
            self.position = position
            self.request_detail()

    def request_detail(self) -> None:
        """Compute the details at the chosen token in a worker."""
        self._request += 1
        self._detail_worker(self._request, self.position)

    @work(thread=True, exclusive=True, exit_on_error=False, group="analysis-detail", description="analysis detail")
    def _detail_worker(self, request: int, position: int) -> None:
        assert self.analysed is not None
        try:
            detail = self.compute(self.analysed, position)
        except Exception as exc:  # shown in the view
            self.post_message(AnalysisFailed(describe_error(exc)))
            return
        self.post_message(DetailReady(request, detail))

    def on_detail_ready(self, message: DetailReady) -> None:
        if message.request == self._request:
            self.detail, self.message = message.detail, None
            self.redraw()

    def compute(self, analysed: "ForwardPass", position: int) -> object:
        """The details at `position` (runs in a worker; returns plain data)."""
        raise NotImplementedError

    def render_detail(self) -> tuple[Text, object]:
        """(title line, body renderable) for the current details."""
        raise NotImplementedError

    def token_weights(self) -> list[float] | None:
        """Weights to shade the tokens with, or None."""
        return None

    def redraw(self) -> None:
        """Show the current details."""
        if self.analysed is None or self.detail is None:
            return
        title, body = self.render_detail()
        analysed = self.analysed
        where = f"token {self.position + analysed.offset + 1} of {len(analysed.ids) + analysed.offset}"
        if analysed.offset:
            where += f" (the last {len(analysed.ids)} are analysed)"
        part = "continuation" if self.position >= analysed.prompt_length else "text"
        heading = Text.assemble((f"{self.TITLE_TEXT} · {analysed.model} · ", "bold"), f"{where} · in the {part} · ")
        self.query_one("#analysis-title", Static).update(heading + title)
        self.query_one("#analysis-tokens", Static).update(token_strip(analysed.texts, self.position,
                                                                      self.token_weights()))
        self.query_one("#analysis-detail", Static).update(body)

    def show_message(self, text: str) -> None:
        """Show `text` instead of details."""
        self.message = text
        self.query_one("#analysis-detail", Static).update(Text(text))

