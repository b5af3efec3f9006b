"""The assembled prompt, exactly as the next continuation sends it, each part coloured by where it came from, with the
lorebook entries that fired (and the key that fired each) and what was cut."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from scribe.studio.assembly import Assembly, Part
from scribe.ui.keys import PREVIEW_BINDINGS, hint_key

SOURCE_STYLE = {"memory": "bold cyan", "lore": "green", "note": "bold magenta", "story": ""}
"""How each source is coloured in the preview."""
SOURCE_NAME = {"memory": "memory", "lore": "lorebook", "note": "author's note", "story": "story"}


def prompt_text(assembly: Assembly) -> Text:
    """The prompt, each part in its source's colour."""
    text = Text()
    for part in assembly.parts:
        text.append(part.text, style=SOURCE_STYLE[part.source])
    return text


def fired_line(part: Part) -> str:
    """Why a lorebook entry is in the prompt."""
    if part.via == "always":
        return f"{part.label}: always on ({part.tokens} tokens)"
    where = "the story" if part.via == "story" else f"entry {part.via}"
    return f"{part.label}: key {part.key!r} in {where} ({part.tokens} tokens)"


def summary_text(assembly: Assembly) -> Text:
    """The legend with each source's tokens, the entries that fired and the cuts."""
    text = Text()
    for source, style in SOURCE_STYLE.items():
        text.append(f"■ {SOURCE_NAME[source]} {assembly.tokens_of(source)}  ", style=style or "bold")  # type: ignore[arg-type]
    text.append(f"= {assembly.tokens}/{assembly.budget} tokens\n")
    lore = assembly.lore
    text.append("Lorebook: " + ("no entry fired" if not lore else f"{len(lore)} fired") + "\n", style="bold")
    for part in lore:
        text.append(f"  ✓ {fired_line(part)}\n", style="green")
    for cut in assembly.cuts:
        text.append(f"  ✂ {SOURCE_NAME[cut.source]} {cut.label}: {cut.reason}\n", style="yellow")
    return text


class ContextPreviewScreen(ModalScreen[None]):
    """The prompt sent; escape closes."""

    DEFAULT_CSS = """
    ContextPreviewScreen { align: center middle; }
    ContextPreviewScreen > Vertical { width: 100; max-width: 100%; height: 90%; border: thick $primary;
                                      background: $surface; padding: 0 1; }
    ContextPreviewScreen #preview-summary { height: auto; margin-bottom: 1; }
    ContextPreviewScreen VerticalScroll { border: round $panel; }
    """
    BINDINGS = PREVIEW_BINDINGS

    def __init__(self, assembly: Assembly) -> None:
        super().__init__()
        self.assembly = assembly

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]The prompt sent[/b]  exactly as the next continuation sends it · "
                        f"{escape(hint_key(self, 'preview_close'))} closes")
            yield Static(summary_text(self.assembly), id="preview-summary")
            with VerticalScroll(id="preview-scroll"):
                yield Static(prompt_text(self.assembly), id="preview-prompt")

    def on_mount(self) -> None:
        scroll = self.query_one("#preview-scroll", VerticalScroll)
        scroll.focus()
        scroll.scroll_end(animate=False)
