"""Renderings of analysis results for the terminal: tokens shaded by weight, a heads x tokens heatmap, and the
next-token bar chart with the sampling cuts. Pure functions of plain data, returning Rich renderables."""

from __future__ import annotations

from collections.abc import Sequence

from rich.color import Color
from rich.console import Group, RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text

from scribe.analysis.attention import AttentionRow
from scribe.analysis.distribution import Distribution

_LOW = (24, 28, 48)
_HIGH = (255, 196, 0)
BAR_WIDTH = 30


def shade(level: float) -> Color:
    """A colour from dark blue (0) to amber (1)."""
    level = min(max(level, 0.0), 1.0)
    return Color.from_rgb(*(round(lo + (hi - lo) * level) for lo, hi in zip(_LOW, _HIGH)))


def visible(token: str) -> str:
    """A token's text with line breaks and tabs made visible."""
    return token.replace("\n", "⏎").replace("\t", "⇥") or "∅"


def token_strip(tokens: Sequence[str], selected: int, weights: Sequence[float] | None = None,
                before: int = 160, after: int = 40) -> Text:
    """The tokens around `selected` (highlighted), each shaded by its weight relative to the largest one."""
    start, stop = max(0, selected - before), min(len(tokens), selected + after + 1)
    top = max(weights) if weights else 0.0
    text = Text("…" if start else "")
    for index in range(start, stop):
        style = Style()
        if weights is not None and index < len(weights) and top > 0:
            level = weights[index] / top
            style = Style(bgcolor=shade(level), color="black" if level > 0.55 else "white")
        if index == selected:
            style += Style(reverse=True, bold=True, underline=True)
        elif index > selected:
            style += Style(dim=True)
        text.append(visible(tokens[index]), style)
    if stop < len(tokens):
        text.append("…")
    return text


def head_grid(row: AttentionRow, layer: int, head: int | None, columns: int) -> Table:
    """Rows: each head of `layer` and their mean; columns: the last `columns` keys up to the query token.
    Each cell is shaded by its weight relative to the largest weight of its row; the selected row is marked."""
    keys = len(row.tokens)
    first = max(0, keys - columns)
    table = Table.grid(padding=(0, 1))
    table.add_column(justify="right", no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True, justify="right")
    choices: list[int | None] = [*range(row.heads), None]
    for choice in choices:
        weights = row.row(layer, choice)
        top = max(weights) or 1.0
        cells = Text()
        for key in range(first, keys):
            cells.append("█", Style(color=shade(weights[key] / top)))
        label = "mean" if choice is None else f"h{choice}"
        marker = Style(reverse=True) if choice == head else Style()
        best = max(range(keys), key=weights.__getitem__)
        table.add_row(Text(label, marker), cells, Text(f"{best}:{visible(row.tokens[best])[:12]} {weights[best]:.2f}"))
    table.add_row("", Text(f"tokens {first}..{keys - 1}, oldest on the left", style="dim"), "")
    return table


def distribution_chart(dist: Distribution, width: int = BAR_WIDTH) -> RenderableType:
    """The candidates as bars of raw probability, with cumulative and final probability, and a line where each
    sampling processor starts removing candidates."""
    table = Table(box=None, padding=(0, 1), show_edge=False, expand=False)
    for name, justify in (("#", "right"), ("token", "left"), ("probability", "left"), ("p", "right"),
                          ("cum.", "right"), ("final", "right"), ("removed by", "left")):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    top = dist.candidates[0].prob if dist.candidates else 1.0
    for index, candidate in enumerate(dist.candidates):
        for cut in dist.cut_before(index):
            table.add_row("", "", Text(f"── {cut.processor} cuts: keeps {cut.kept:,} ──", style="bold red"))
        removed = candidate.removed_by is not None
        filled = round(width * candidate.prob / top) if top > 0 else 0
        bar = Text("█" * filled, style="grey50" if removed else "green")
        table.add_row(str(candidate.rank), Text(repr(candidate.text), style="dim" if removed else ""), bar,
                      _percent(candidate.prob), _percent(candidate.cumulative), _percent(candidate.final_prob),
                      candidate.removed_by or "")
    cuts = ", ".join(f"{cut.processor} keeps {cut.kept:,}" for cut in dist.cuts) or "no sampling processor enabled"
    lines: list[RenderableType] = [
        Text(f"after {visible(dist.after)!r}: entropy {dist.entropy_bits:.2f} bits over {dist.vocab:,} tokens · "
             + cuts),
        table,
    ]
    if dist.actual is not None:
        actual = dist.actual
        lines.append(Text(f"next in the text: {actual.text!r}, rank {actual.rank:,}, p {_percent(actual.prob)}"
                          + (f", removed by {actual.removed_by}" if actual.removed_by else ""), style="italic"))
    return Group(*lines)


def _percent(value: float) -> str:
    return f"{value * 100:.2f}%" if value == 0 or value >= 1e-4 else f"{value * 100:.0e}%"
