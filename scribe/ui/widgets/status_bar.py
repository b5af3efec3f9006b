"""The status bar: model, device, dtype, state, speed, the preset, tokens before the cursor against the context (and
how many are cut when they do not fit) or, when the document has context tools, the assembled prompt's tokens by part,
and the document."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from rich.text import Text
from textual.widgets import Static

ModelState = Literal["no model", "loading", "ready", "generating", "error"]

_STATE_STYLE = {"no model": "dim", "loading": "yellow", "ready": "green", "generating": "bold cyan", "error": "bold red"}


@dataclass(frozen=True)
class Status:
    """What the bar shows."""

    state: ModelState = "no model"
    model: str = ""
    device: str = ""
    dtype: str = ""
    tokens_per_s: float | None = None
    context_tokens: int | None = None
    context_length: int | None = None
    prompt_budget: int | None = None
    """The most prompt tokens the model sees (the context less room for the continuation)."""
    count_bounded: bool = False
    """Only the tail of a long text before the cursor was counted (several times the context): the text has more
    tokens than `context_tokens`, and more than `cut` are cut."""
    cut: int = 0
    """Tokens cut from the start of the text before the cursor because they do not fit."""
    parts: tuple[tuple[str, int], ...] = ()
    """Tokens of each source of the assembled prompt (memory, lore, note, story) when the document has context
    tools; empty otherwise (the bar then shows the tokens before the cursor)."""
    prompt_tokens: int = 0
    """Tokens of the whole assembled prompt."""
    fired: int = 0
    """Lorebook entries inserted."""
    story_cut: bool = False
    """The story's start was cut to fit."""
    preset: str = ""
    document: str = "untitled"
    modified: bool = False
    error: str = ""
    notice: str = ""
    """What a slow model load is doing (TensorFlow starting), shown while the state is "loading"."""


class StatusBar(Static):
    """One line at the bottom; `update_status(field=value)` changes what it shows."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; padding: 0 1;
                text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.status = Status()

    def on_mount(self) -> None:
        self.update(self.render_status())

    def update_status(self, **changes: Any) -> None:
        """Change some fields and redraw (a new state drops the loading notice unless it comes with one)."""
        if "state" in changes:
            changes.setdefault("notice", "")
        self.status = replace(self.status, **changes)
        self.update(self.render_status(), layout=False)  # one line, always: no screen layout (it runs per frame)

    def render_status(self) -> Text:
        """The line for the current status."""
        s = self.status
        line = Text()
        line.append(f"● {s.notice if s.state == 'loading' and s.notice else s.state}", style=_STATE_STYLE[s.state])
        if s.state == "error" and s.error:  # first, so that a narrow terminal shows it
            line.append(f"  {s.error}", style="red")
        if s.model:
            line.append(f"  {s.model}", style="bold")
            details = " · ".join(part for part in (s.device, s.dtype) if part)
            if details:
                line.append(f" ({details})", style="dim")
        if s.tokens_per_s is not None:
            line.append(f"  {s.tokens_per_s:.1f} tok/s")
        if s.preset:
            line.append(f"  preset {s.preset}", style="dim")
        if s.parts:
            names = {"memory": "mem", "lore": f"lore×{s.fired}", "note": "note", "story": "story"}
            line.append("  ctx " + " · ".join(f"{names[name]} {tokens}" for name, tokens in s.parts), style="dim")
            line.append(f" = {s.prompt_tokens}/{s.prompt_budget}", style="dim")
            if s.story_cut:
                line.append(" ✂ story start cut", style="bold yellow")
        elif s.context_tokens is not None:
            limit = f"/{s.context_length}" if s.context_length else ""
            more = "more than " if s.count_bounded else ""
            line.append(f"  {more}{s.context_tokens}{limit} tokens before cursor", style="dim")
            if s.cut:
                line.append(f" ✂ {more or 'first '}{s.cut} cut (fits {s.prompt_budget})", style="bold yellow")
        line.append(f"  {s.document}", style="italic")
        if s.modified:
            line.append(" [modified]", style="yellow")
        return line
