"""A project's chapters (alt+u): each with its word count, the total, and a search across every chapter.

Up/down and enter pick a chapter to open (the screen is dismissed with its file name); typing in the search field
lists every matching line as `chapter:line: text`; escape closes.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from scribe.studio.project import Project, ProjectError
from scribe.ui.keys import CHAPTERS_BINDINGS, hint_key

MAX_HITS = 200
"""Search hits listed at most (the count says how many there were)."""


class ChaptersScreen(ModalScreen[str | None]):
    """The chapters of `project`; `current` is the open one, counted and searched as `current_text` (the editor's
    text, saved or not)."""

    DEFAULT_CSS = """
    ChaptersScreen { align: center middle; }
    ChaptersScreen > Vertical { width: 100; max-width: 100%; height: 90%; border: thick $primary; background: $surface;
                                padding: 0 1; }
    ChaptersScreen #chapter-list { height: auto; max-height: 16; }
    ChaptersScreen #chapter-hits { height: 1fr; }
    """
    BINDINGS = CHAPTERS_BINDINGS

    def __init__(self, project: Project, current: str | None, current_text: str | None = None) -> None:
        super().__init__()
        self.project = project
        self.current = current
        self.open_texts = {current: current_text} if current is not None and current_text is not None else {}

    def compose(self) -> ComposeResult:
        try:
            counts = self.project.word_counts(self.open_texts)
        except ProjectError as exc:
            counts, error = [(c, 0) for c in self.project.chapters], str(exc)
        else:
            error = ""
        width = max((len(name) for name, _ in counts), default=5)
        options = []
        for number, (name, words) in enumerate(counts, 1):
            line = Text(f"{number:>3}  {name:<{width}}  {words:>8,} words", style="bold" if name == self.current else "")
            options.append(Option(line.append("  ◀ open" if name == self.current else "", style="bold"), id=name))
        with Vertical():
            yield Label(f"[b]Chapters[/b] of {escape(self.project.folder.name)}  enter opens · type to search · "
                        f"{escape(hint_key(self, 'chapters_close'))} closes")
            yield OptionList(*options, id="chapter-list")
            yield Static(error or f"     {'total':<{width}}  {sum(w for _, w in counts):>8,} words", id="chapter-total")
            yield Input(placeholder="search every chapter…", id="chapter-search")
            yield Static("", id="chapter-hits", markup=False)

    def on_mount(self) -> None:
        chapters = self.query_one("#chapter-list", OptionList)
        if self.current in self.project.chapters:
            chapters.highlighted = self.project.chapters.index(self.current)
        chapters.focus()

    @on(OptionList.OptionSelected, "#chapter-list")
    def _open(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    @on(Input.Changed, "#chapter-search")
    def _search(self, event: Input.Changed) -> None:
        hits_view = self.query_one("#chapter-hits", Static)
        if not event.value.strip():
            hits_view.update("")
            return
        try:
            hits = self.project.search(event.value, open_texts=self.open_texts)
        except ProjectError as exc:
            hits_view.update(str(exc))
            return
        lines = [f"{hit.chapter}:{hit.line}: {hit.text}" for hit in hits[:MAX_HITS]]
        more = f"\n… {len(hits) - MAX_HITS} more" if len(hits) > MAX_HITS else ""
        hits_view.update(f"{len(hits)} line(s)\n" + "\n".join(lines) + more)
