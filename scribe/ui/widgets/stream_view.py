"""The live continuation: each token coloured by how likely the model found it, with a legend, and the token inspector.

The view shows the branch path being offered: the continuations above the shown node (dimmer) and the node itself,
which streams in while it is generated. Tokens arrive in batches (one per frame), never one call per token.

Inspecting (the app's `inspect` key focuses the view): left/right move over the generated tokens, up/down choose one
of the token's alternatives, enter starts a new branch from the chosen alternative, escape goes back to the editor.
The panel under the text lists each alternative's probability before and after the sampling filters and the filter
that removed it (the sampler X-ray).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.visual import VisualType
from textual.widgets import Static

from scribe.engine.base import Alternative, StreamEnd, TokenStep
from scribe.ui.keys import INSPECTOR_BINDINGS, hint_key, hint_pair
from scribe.ui.widgets.stream_text import StreamText

BUCKETS: tuple[tuple[float, str, str], ...] = (
    (0.5, "green", "≥50%"),
    (0.2, "chartreuse3", "20–50%"),
    (0.05, "yellow", "5–20%"),
    (0.01, "dark_orange", "1–5%"),
    (0.0, "red", "<1%"),
)
"""(lowest raw probability, colour, label): likely tokens green, surprising ones red."""


def probability_style(raw_prob: float) -> str:
    """The colour of a token the model gave probability `raw_prob`; none when it is unknown (NaN)."""
    if math.isnan(raw_prob):
        return ""
    for low, colour, _ in BUCKETS:
        if raw_prob >= low:
            return colour
    return BUCKETS[-1][1]


def legend(label: str = "probability") -> Text:
    """One line naming the colours."""
    text = Text(f"{label} ", style="dim")
    for _, colour, name in BUCKETS:
        text.append("■ ", style=colour).append(f"{name}  ", style="dim")
    return text


class TokenLike(Protocol):
    """A streamed `TokenStep` or a stored `TokenRecord` (read-only: both are frozen dataclasses)."""

    @property
    def token_id(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def raw_prob(self) -> float: ...
    @property
    def final_prob(self) -> float: ...
    @property
    def alternatives(self) -> tuple[Alternative, ...]: ...


@dataclass(frozen=True)
class Segment:
    """A finished node on the shown path: its prefix (a chosen alternative), its tokens and its whole own text."""

    node_id: str
    prefix: str
    tokens: tuple[TokenLike, ...]
    text: str


class StreamView(Vertical, can_focus=True):
    """Shows the offered branch path; `text` is exactly what accepting inserts."""

    BINDINGS = INSPECTOR_BINDINGS
    DEFAULT_CSS = """
    StreamView { height: 1fr; border: round $primary-darken-2; padding: 0 1; }
    StreamView:focus { border: round $accent; }
    StreamView #stream-legend { height: 1; }
    StreamView #stream-text { height: 1fr; }
    StreamView #stream-alternatives { height: auto; max-height: 12; color: $text-muted; }
    """

    class BranchFrom(Message):
        """The writer picked `alternative` in place of token `index` of node `node_id`."""

        def __init__(self, node_id: str, index: int, alternative: Alternative) -> None:
            super().__init__()
            self.node_id = node_id
            self.index = index
            self.alternative = alternative

    class KeepTo(Message):
        """The writer keeps the first `length` characters of the offered text."""

        def __init__(self, length: int) -> None:
            super().__init__()
            self.length = length

    class Left(Message):
        """The writer left the inspector."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._above: list[Segment] = []
        self._node_id: str | None = None
        self._prefix = ""
        self._steps: list[TokenLike] = []
        self._end: StreamEnd | None = None
        self._final: str | None = None
        self._cursor: int | None = None
        self._choice = 0
        self.border_title = "continuation"

    def compose(self) -> ComposeResult:
        yield Static(legend(), id="stream-legend")
        yield StreamText(id="stream-text")
        yield Static("", id="stream-alternatives")

    @property
    def steps(self) -> list[TokenLike]:
        """The tokens of the shown node so far."""
        return self._steps

    @property
    def end(self) -> StreamEnd | None:
        """How the stream ended, once it has (None for a node shown from the tree)."""
        return self._end

    @property
    def own_text(self) -> str:
        """The shown node's text: its prefix and what was generated."""
        if self._final is not None:
            return self._prefix + self._final
        return self._prefix + "".join(step.text for step in self._steps)

    @property
    def text(self) -> str:
        """The offered path: the continuations above the node and the node's own text."""
        return "".join(segment.text for segment in self._above) + self.own_text

    @property
    def inspected(self) -> tuple[str, int] | None:
        """(node id, token index) under the inspector's cursor, or None."""
        if self._cursor is None:
            return None
        located = self._locate(self._cursor)
        return None if located is None else (located[0].node_id, located[1])

    def reset(self, title: str = "continuation", *, above: Sequence[Segment] = (), node_id: str | None = None,
              prefix: str = "") -> None:
        """Clear the view for a new continuation of node `node_id` under the path `above`."""
        self._above = list(above)
        self._node_id = node_id
        self._prefix = prefix
        self._steps = []
        self._end = None
        self._final = None
        self._cursor = None
        self.border_title = title
        self.border_subtitle = ""
        self._render_text()

    def show(self, above: Sequence[Segment], node: Segment, title: str, subtitle: str = "") -> None:
        """Show a finished node (from the tree) under the path `above`."""
        self.reset(title, above=above, node_id=node.node_id, prefix=node.prefix)
        self._steps = list(node.tokens)
        self._final = node.text[len(node.prefix) :]
        self.border_subtitle = subtitle
        self._render_text()

    def scroll_to_start(self) -> None:
        """Show the start of the text (where keeping part of it continues from)."""
        self.query_one(StreamText).scroll_home(animate=False, immediate=True)

    def add(self, items: Iterable[TokenStep | StreamEnd]) -> None:
        """Show a batch of stream items (one refresh per batch): new tokens are drawn after the shown ones, unless the
        stream ended (its final text may drop a stop string) or the inspector is open."""
        added = Text()
        for item in items:
            if isinstance(item, TokenStep):
                self._steps.append(item)
                added.append(item.text, style=probability_style(item.raw_prob))
            else:
                self._end = item
                self._final = item.text
        if self._final is not None or self._inspecting() or not self.is_mounted:
            self._render_text()
            return
        self.query_one(StreamText).append(added)
        self._render_panel()

    # --- the inspector

    def on_focus(self) -> None:
        if self._cursor is None and self._token_count():
            self._cursor = self._token_count() - 1
            self._choice = 0
        self.call_later(self._render_text)  # Textual sets `has_focus` after this handler

    def on_blur(self) -> None:
        self.call_later(self._render_text)

    def action_move_token(self, delta: int) -> None:
        """Move the inspector's cursor by `delta` tokens."""
        count = self._token_count()
        if count:
            self._cursor = min(max((self._cursor or 0) + delta, 0), count - 1)
            self._choice = 0
            self._render_text()

    def action_token_edge(self, last: bool) -> None:
        """Move the inspector's cursor to the first or the last token."""
        count = self._token_count()
        if count:
            self._cursor = count - 1 if last else 0
            self._choice = 0
            self._render_text()

    def action_move_alternative(self, delta: int) -> None:
        """Choose another alternative of the inspected token."""
        token = self._inspected_token()
        if token is not None and token.alternatives:
            self._choice = min(max(self._choice + delta, 0), len(token.alternatives) - 1)
            self._render_text()

    def action_branch(self) -> None:
        """Ask the app for a branch that continues from the chosen alternative (not in an action's answer, which is no
        continuation)."""
        located = self._locate(self._cursor) if self._cursor is not None else None
        if located is None or not located[0].node_id or not located[0].tokens[located[1]].alternatives:
            self.app.bell()
            return
        segment, index = located
        self.post_message(self.BranchFrom(segment.node_id, index, segment.tokens[index].alternatives[self._choice]))

    def action_keep(self) -> None:
        """Ask the app to keep the offered text up to and including the token under the cursor."""
        position, before = self._cursor, 0
        if position is None:
            self.app.bell()
            return
        for segment in self._segments():
            if position < len(segment.tokens):
                own = len(segment.prefix) + sum(len(token.text) for token in segment.tokens[: position + 1])
                self.post_message(self.KeepTo(before + min(own, len(segment.text))))
                return
            position -= len(segment.tokens)
            before += len(segment.text)
        self.app.bell()

    def action_leave(self) -> None:
        """Back to the editor."""
        self.post_message(self.Left())

    def _segments(self) -> list[Segment]:
        live = Segment(self._node_id or "", self._prefix, tuple(self._steps), self.own_text)
        return [*self._above, live]

    def _token_count(self) -> int:
        return sum(len(segment.tokens) for segment in self._segments())

    def _locate(self, position: int) -> tuple[Segment, int] | None:
        for segment in self._segments():
            if position < len(segment.tokens):
                return segment, position
            position -= len(segment.tokens)
        return None

    def _inspected_token(self) -> TokenLike | None:
        located = self._locate(self._cursor) if self._cursor is not None else None
        return None if located is None else located[0].tokens[located[1]]

    # --- drawing

    def _inspecting(self) -> bool:
        return self.has_focus and self._cursor is not None

    def _render_text(self) -> None:
        """Draw the whole path (a new continuation, a shown branch, an inspector move) and the panel under it."""
        if not self.is_mounted:
            return
        rendered = Text()
        inspecting = self._inspecting()
        position = 0
        segments = self._segments()
        for number, segment in enumerate(segments):
            above = number < len(segments) - 1
            start = len(rendered)
            rendered.append(segment.prefix, style="underline")
            budget = len(segment.text) - len(segment.prefix)
            written = 0
            for token in segment.tokens:
                piece = token.text[: max(budget - written, 0)]
                written += len(piece)
                style = probability_style(token.raw_prob)
                if inspecting and position == self._cursor:
                    style += " reverse bold"
                rendered.append(piece, style=style)
                position += 1
            if written < budget:
                rendered.append(segment.text[len(segment.prefix) + written :])
            if above:
                rendered.stylize("dim", start, len(rendered))
        self.query_one(StreamText).show(rendered, follow=not inspecting)
        self._render_panel()

    def _inspector_hint(self) -> str:
        """The inspector's keys in effect (remapped ones too), as the line under its table names them."""
        return (f"{hint_pair(self, 'inspect_prev_token', 'inspect_next_token')} token · "
                f"{hint_pair(self, 'inspect_prev_alternative', 'inspect_next_alternative')} alternative · "
                f"{hint_key(self, 'inspect_branch')}: branch from it · {hint_key(self, 'inspect_leave')}: back")

    def _render_panel(self) -> None:
        """The inspected token's X-ray, or the last token and its alternatives."""
        inspecting = self._inspecting()
        token = self._inspected_token() if inspecting else (self._steps[-1] if self._steps else None)
        panel = self.query_one("#stream-alternatives", Static)
        if token is None:
            panel.update("")
        elif inspecting:
            panel.update(inspector_table(token, self._choice, self._cursor or 0, self._token_count(),
                                         self._inspector_hint()))
        else:
            update_in_place(panel, alternatives_line(token))


def update_in_place(widget: Static, content: VisualType) -> None:
    """`widget.update(content)`, asking for a screen layout only when the content's height at the widget's width
    changes. A layout re-renders every widget on the screen (the editor too); the line under the stream changes with
    every batch of tokens, but rarely its height, so most updates need only a repaint of this one widget."""
    height, width = widget.size.height, widget.size.width
    widget.update(content, layout=False)
    if not width or widget.get_content_height(widget.size, widget.app.size, width) != height:
        widget.refresh(layout=True)


def percent(p: float) -> str:
    """A probability as a short percentage that does not round small values to 0%; "?" when it is unknown (NaN: a
    remote server that sends no logprobs)."""
    if math.isnan(p):
        return "?"
    if p <= 0.0:
        return "0"
    if p >= 0.1:
        return f"{p:.0%}"
    return f"{p:.1%}" if p >= 0.001 else "<0.1%"


def is_chosen(alt: Alternative, step: TokenLike) -> bool:
    """Whether an alternative is the token that was picked (by id; by text for a remote model, whose tokens have none)."""
    return alt.token_id == step.token_id and (alt.token_id >= 0 or alt.text == step.text)


_VISIBLE = {"\n": "⏎", "\r": "␍", "\t": "⇥"}
"""How a token's line breaks and tabs are shown where the inspector quotes it."""


def quoted(text: str) -> str:
    """A token's text in quotes, a line break shown as ⏎ (a carriage return ␍, a tab ⇥) and any other invisible
    character escaped, so a newline token reads the same wherever the inspector names it."""
    return "'" + "".join(_VISIBLE.get(c) or (c if c.isprintable() else repr(c)[1:-1]) for c in text) + "'"


def model_text(step: TokenLike) -> str:
    """The token's text as the model produced it (the chosen alternative's), where the text inserted may differ: the
    prose joins hold a line break back until the next token (then it reads '') or make it a space."""
    return next((alt.text for alt in step.alternatives if is_chosen(alt, step)), step.text)


def token_name(step: TokenLike) -> Text:
    """The token as the model produced it, quoted, and what was inserted for it when that differs."""
    name = Text(quoted(model_text(step)), style=probability_style(step.raw_prob))
    if model_text(step) != step.text:
        name.append(f" (inserted as {quoted(step.text)})", style="dim")
    return name


def alternatives_line(step: TokenLike) -> Text:
    """The last token and what else the model considered there."""
    line = Text("last ", style="dim")
    line.append_text(token_name(step)).append(f" {percent(step.raw_prob)}  ", style="dim")
    if step.alternatives:
        line.append("alternatives ", style="dim")
        for alt in step.alternatives:
            if not is_chosen(alt, step):
                line.append(quoted(alt.text), style=probability_style(alt.raw_prob)).append(f" {percent(alt.raw_prob)}  ", style="dim")
    return line


def inspector_table(token: TokenLike, choice: int, position: int, count: int, hint: str) -> Text:
    """The sampler X-ray of one token: each alternative before and after the filters, and what removed it; `hint`
    (the inspector's keys) under it."""
    out = Text()
    out.append(f"token {position + 1}/{count} ", style="bold")
    out.append_text(token_name(token))
    out.append(f"  before filters {percent(token.raw_prob)}  after {percent(token.final_prob)}\n")
    out.append(f"   {'alternative':<18} {'before':>7} {'after':>7}  filter\n", style="bold")
    for number, alt in enumerate(token.alternatives):
        chosen = "▶ " if number == choice else "  "
        mark = "*" if is_chosen(alt, token) else " "
        fate = f"removed by {alt.removed_by}" if alt.removed_by else "kept"
        after = "0" if alt.removed_by else percent(alt.final_prob)  # a filtered token cannot be drawn
        row = Text(f"{chosen}{mark}{quoted(alt.text):<18.18} {percent(alt.raw_prob):>7} {after:>7}  {fate}\n",
                   style="reverse" if number == choice else "")
        row.stylize(probability_style(alt.raw_prob), 3, 21)
        out.append_text(row)
    out.append(f"{hint}  (* = the token chosen)", style="dim")
    return out
