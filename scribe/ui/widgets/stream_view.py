"""The live continuation: each token coloured by how likely the model found it, with a legend and the last token's
alternatives. Tokens arrive in batches (one per frame), never one call per token."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from scribe.engine.base import StreamEnd, TokenStep

BUCKETS: tuple[tuple[float, str, str], ...] = (
    (0.5, "green", "≥50%"),
    (0.2, "chartreuse3", "20–50%"),
    (0.05, "yellow", "5–20%"),
    (0.01, "dark_orange", "1–5%"),
    (0.0, "red", "<1%"),
)
"""(lowest raw probability, colour, label): likely tokens green, surprising ones red."""


def probability_style(raw_prob: float) -> str:
    """The colour of a token the model gave probability `raw_prob`."""
    for low, colour, _ in BUCKETS:
        if raw_prob >= low:
            return colour
    return BUCKETS[-1][1]


def legend() -> Text:
    """One line naming the colours."""
    text = Text("probability ", style="dim")
    for _, colour, label in BUCKETS:
        text.append("■ ", style=colour).append(f"{label}  ", style="dim")
    return text


class StreamView(Vertical):
    """Shows the continuation being generated; `text` is exactly what accepting inserts."""

    DEFAULT_CSS = """
    StreamView { height: 1fr; border: round $primary-darken-2; padding: 0 1; }
    StreamView #stream-legend { height: 1; }
    StreamView #stream-scroll { height: 1fr; }
    StreamView #stream-alternatives { height: 1; color: $text-muted; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._steps: list[TokenStep] = []
        self._end: StreamEnd | None = None
        self.border_title = "continuation"

    def compose(self) -> ComposeResult:
        yield Static(legend(), id="stream-legend")
        with VerticalScroll(id="stream-scroll"):
            yield Static("", id="stream-text")
        yield Static("", id="stream-alternatives")

    @property
    def steps(self) -> list[TokenStep]:
        """The tokens shown so far."""
        return self._steps

    @property
    def end(self) -> StreamEnd | None:
        """How the stream ended, once it has."""
        return self._end

    @property
    def text(self) -> str:
        """The continuation: the final text once the stream ended, else the tokens so far."""
        return self._end.text if self._end is not None else "".join(step.text for step in self._steps)

    def reset(self, title: str = "continuation") -> None:
        """Clear the view for a new continuation (or after a reject or accept)."""
        self._steps = []
        self._end = None
        self.border_title = title
        self.border_subtitle = ""
        self.query_one("#stream-text", Static).update("")
        self.query_one("#stream-alternatives", Static).update("")

    def add(self, items: Iterable[TokenStep | StreamEnd]) -> None:
        """Show a batch of stream items (one refresh per batch)."""
        for item in items:
            if isinstance(item, TokenStep):
                self._steps.append(item)
            else:
                self._end = item
        self._render_text()

    def _render_text(self) -> None:
        scroll = self.query_one("#stream-scroll", VerticalScroll)
        follow = scroll.scroll_y >= scroll.max_scroll_y - 1
        rendered = Text()
        budget = len(self._end.text) if self._end is not None else None
        for step in self._steps:
            piece = step.text if budget is None else step.text[: max(budget - len(rendered), 0)]
            rendered.append(piece, style=probability_style(step.raw_prob))
        if self._end is not None and len(rendered) < len(self._end.text):
            rendered.append(self._end.text[len(rendered) :])
        self.query_one("#stream-text", Static).update(rendered)
        if self._steps:
            self.query_one("#stream-alternatives", Static).update(alternatives_line(self._steps[-1]))
        if follow:
            scroll.scroll_end(animate=False)


def percent(p: float) -> str:
    """A probability as a short percentage that does not round small values to 0%."""
    if p >= 0.1:
        return f"{p:.0%}"
    return f"{p:.1%}" if p >= 0.001 else "<0.1%"


def alternatives_line(step: TokenStep) -> Text:
    """The last token and what else the model considered there."""
    line = Text("last ", style="dim")
    line.append(repr(step.text), style=probability_style(step.raw_prob)).append(f" {percent(step.raw_prob)}  ", style="dim")
    if step.alternatives:
        line.append("alternatives ", style="dim")
        for alt in step.alternatives:
            if alt.token_id != step.token_id:
                line.append(repr(alt.text), style=probability_style(alt.raw_prob)).append(f" {percent(alt.raw_prob)}  ", style="dim")
    return line
