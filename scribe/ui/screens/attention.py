"""The attention view: where the chosen token looks, per layer and head, as a heatmap over the tokens before it.

Keys: left/right choose the token, [ and ] the layer, - and = (or , and .) the head, m the mean over the layer's
heads, escape closes. The tokens are shaded by the chosen head's weights (or the mean), and the grid below shows every
head of the layer over the most recent tokens, each row scaled to its own largest weight.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.text import Text

from scribe.analysis.attention import AttentionRow, entropy_bits, top_keys
from scribe.ui.keys import ATTENTION_BINDINGS
from scribe.ui.screens.analysis import AnalysisScreen
from scribe.ui.widgets.heatmap import head_grid, visible

if TYPE_CHECKING:
    from scribe.engine.introspect import ForwardPass

GRID_COLUMNS = 64
"""Most recent tokens shown in the heads grid."""


class AttentionScreen(AnalysisScreen):
    """Attention weights of one token over the tokens before it."""

    TITLE_TEXT = "Attention"
    ATTENTIONS = True
    BINDINGS = ATTENTION_BINDINGS

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.layer_index = 0
        self.head_index: int | None = None
        """The chosen head, or None for the mean over heads."""

    def compute(self, analysed: "ForwardPass", position: int) -> AttentionRow:
        from scribe.analysis.attention import attention_at

        return attention_at(analysed, position)

    @property
    def row(self) -> AttentionRow | None:
        """The attention of the chosen token (None until computed)."""
        return self.detail if isinstance(self.detail, AttentionRow) else None

    def action_layer(self, step: int) -> None:
        """Choose the previous or next layer."""
        if self.row is not None:
            self.layer_index = (self.layer_index + step) % len(self.row.layer_names)
            self.redraw()

    def action_head(self, step: int) -> None:
        """Choose the previous or next head (from the mean: the first or last head)."""
        if self.row is not None:
            heads = self.row.heads
            if self.head_index is None:
                self.head_index = 0 if step > 0 else heads - 1
            else:
                self.head_index = (self.head_index + step) % heads
            self.redraw()

    def action_mean(self) -> None:
        """Show the mean over the layer's heads."""
        self.head_index = None
        self.redraw()

    def token_weights(self) -> list[float] | None:
        row = self.row
        return list(row.row(self.layer_index, self.head_index)) if row is not None else None

    def render_detail(self) -> tuple[Text, object]:
        row = self.row
        assert row is not None
        head = "mean of heads" if self.head_index is None else f"head {self.head_index + 1}/{row.heads}"
        title = Text(f"{row.layer_names[self.layer_index]} ({self.layer_index + 1}/{len(row.layer_names)}) · {head}")
        weights = row.row(self.layer_index, self.head_index)
        best = ", ".join(f"{i}:{visible(row.tokens[i])!r} {w:.3f}" for i, w in top_keys(weights, 5))
        summary = Text(f"token {row.position} {visible(row.tokens[-1])!r} attends most to: {best} · "
                       f"entropy {entropy_bits(weights):.2f} bits")
        columns = max(8, min(GRID_COLUMNS, self.size.width - 32))
        return title, Group(summary, Text(""), head_grid(row, self.layer_index, self.head_index, columns))
