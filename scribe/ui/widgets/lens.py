"""The perplexity lens: the writer's text coloured by how surprising the model finds each token.

Likely tokens (clichés, the expected word) are green, surprising ones red, in the same colours as the continuation
view. Text cut from the start because it does not fit the model's context is dimmed and struck through, with a note.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from scribe.engine.base import TokenScore
from scribe.ui.widgets.stream_view import legend, probability_style


def perplexity(scores: Sequence[TokenScore]) -> float | None:
    """exp of the mean surprise per token (None for no tokens)."""
    if not scores:
        return None
    return math.exp(-sum(s.logprob for s in scores) / len(scores))


def lens_text(scores: Sequence[TokenScore], cut_tokens: int) -> Text:
    """The scored text, each token coloured by its probability; the first `cut_tokens` dimmed as cut."""
    text = Text()
    for index, score in enumerate(scores):
        if index < cut_tokens:
            text.append(score.text, style="dim strike")
        else:
            text.append(score.text, style=probability_style(math.exp(score.logprob)))
    return text


class LensView(Vertical):
    """Read-only: shown in the editor's place while the lens is on; its text takes the focus and scrolls with the
    arrows, PageUp/PageDown and Home/End."""

    DEFAULT_CSS = """
    LensView { height: 2fr; border: round $accent; padding: 0 1; display: none; }
    LensView.-on { display: block; }
    LensView #lens-legend, LensView #lens-summary { height: 1; }
    LensView #lens-scroll { height: 1fr; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.border_title = "perplexity lens"
        self.scores: list[TokenScore] = []
        self.cut_tokens = 0

    def compose(self) -> ComposeResult:
        yield Static(legend("how likely the model found it"), id="lens-legend")
        yield Static("", id="lens-summary")
        with VerticalScroll(id="lens-scroll"):
            yield Static("scoring…", id="lens-text")

    def waiting(self, model: str) -> None:
        """Show that scoring has started."""
        self.scores, self.cut_tokens = [], 0
        self.query_one("#lens-summary", Static).update(Text(f"scoring with {model}…", style="dim"))
        self.query_one("#lens-text", Static).update("")

    def show(self, scores: Sequence[TokenScore], cut_tokens: int, model: str) -> None:
        """Show scored text; `cut_tokens` tokens at the start do not fit the context."""
        self.scores, self.cut_tokens = list(scores), cut_tokens
        ppl = perplexity(scores)
        summary = Text(f"{model}: {len(scores)} tokens", style="dim")
        if ppl is not None:
            summary.append(f" · perplexity {ppl:.1f}", style="dim")
        if cut_tokens:
            summary.append(f" · ✂ the first {cut_tokens} tokens before the cursor do not fit the context (struck)",
                           style="bold yellow")
        summary.append(" · the lens key again goes back to editing", style="dim")
        self.query_one("#lens-summary", Static).update(summary)
        self.query_one("#lens-text", Static).update(lens_text(scores, cut_tokens))

    def failed(self, error: str) -> None:
        """Scoring is not possible."""
        self.query_one("#lens-summary", Static).update(Text(error, style="red"))
