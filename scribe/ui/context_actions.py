"""The document's context tools in the studio (a mixin of `ScribeApp`): memory, author's note and lorebook, saved
beside the document, the prompt assembled with them for every continuation, its preview and the status bar's meter;
and a project's chapters, opened in place.

The tools are read from `<document>.context.toml` when first needed and written (atomically, in a worker) after each
change; an untitled document keeps them until it is saved. Assembly counts tokens with the loaded model's tokenizer,
so it runs in workers: in the generate worker just before the stream starts (`assembled_prompt`), and in a worker of
its own for the meter and the preview.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.message import Message

from scribe.engine.base import Backend, prompt_budget
from scribe.sampling.params import SamplingParams
from scribe.studio.assembly import Assembly, CachedCounter
from scribe.studio.context import ContextFileError, ContextTools, context_path, load_context, save_context
from scribe.studio.document import Document
from scribe.studio.journal import join_lines
from scribe.studio.project import Project, ProjectError, project_of
from scribe.studio.generation_runs import describe_error

if TYPE_CHECKING:
    from scribe.ui.app import ScribeApp

    _Base = ScribeApp
else:
    _Base = object


@dataclass
class ContextAssembled(Message):
    """An assembly made in a worker, for the meter or the preview."""

    request: int
    assembly: Assembly
    preview: bool


@dataclass
class _StoryLines:
    """The lines of the text before the cursor (the strings shared with the editor) and the newline joining them."""

    lines: list[str] = field(repr=False)
    newline: str


@dataclass
class ContextSaveFailed(Message):
    """Writing the context file failed."""

    error: str


class ContextActions(_Base):
    """Memory, author's note and lorebook of the open document."""

    _ctx_tools: ContextTools | None = None
    _ctx_document: Document | None = None
    """The document `_ctx_tools` belong to (another document opened here reads its own)."""
    _ctx_error: str | None = None
    _ctx_counter: tuple[Backend, CachedCounter] | None = None
    _ctx_request = 0
    _ctx_project: tuple[Path | None, Project | None] | None = None
    _ctx_pending: tuple[Path, ContextTools] | None = None
    """Tools waiting to be written, and the file they go to (the document's when the change was made)."""
    _ctx_lock = threading.Lock()
    """Serialises writes of context files (shared by the apps of one process: writes are short)."""

    @property
    def context_tools(self) -> ContextTools:
        """The document's context tools (read from beside the document the first time, and again when another
        document is opened in the studio)."""
        if self._ctx_tools is None or self._ctx_document is not self.document:
            self._ctx_document, self._ctx_error = self.document, None
            self._ctx_tools = ContextTools()
            if self.document.path is not None:
                try:
                    self._ctx_tools = load_context(context_path(self.document.path))
                except ContextFileError as exc:  # the unreadable file is kept; changes here are not saved over it
                    self._ctx_error = str(exc)
                    self.notify(f"{exc}; context tools are not saved this session", title="Context tools",
                                severity="error", timeout=15, markup=False)
        return self._ctx_tools

    def set_context_tools(self, tools: ContextTools) -> None:
        """Use `tools` from now on and save them (in a worker), then update the meter."""
        if tools == self.context_tools:
            return
        self._ctx_tools = tools
        self.save_context_tools()
        self.measure_context()

    def save_context_tools(self) -> None:
        """Write the tools beside the document, in a worker (nothing while untitled or after a read error)."""
        tools = self.context_tools
        if self.document.path is None or self._ctx_error is not None:
            return
        self._ctx_pending = (context_path(self.document.path), tools)
        self._context_save_worker()

    def flush_context_tools(self) -> None:
        """Write a change not yet on disk now, on this thread (when the editor screen closes)."""
        if self._ctx_pending is not None:
            self._write_context()

    @work(thread=True, exit_on_error=False, group="context-save", description="save context tools")
    def _context_save_worker(self) -> None:
        try:
            self._write_context()
        except OSError as exc:
            self.post_message(ContextSaveFailed(str(exc)))

    def _write_context(self) -> None:
        """Write the newest pending tools, once: workers finishing out of order never write an older version last."""
        with self._ctx_lock:
            pending, self._ctx_pending = self._ctx_pending, None
            if pending is not None:
                save_context(*pending)

    def on_context_save_failed(self, message: ContextSaveFailed) -> None:
        self.notify(f"context tools not saved: {message.error}", severity="error", markup=False)

    # --- assembly

    def _counter(self, backend: Backend) -> CachedCounter:
        """A token counter for `backend` that remembers paragraphs it counted."""
        if self._ctx_counter is None or self._ctx_counter[0] is not backend:
            self._ctx_counter = (backend, CachedCounter(backend.count_tokens, batch=backend.count_tokens_batch))
        return self._ctx_counter[1]

    def _project(self) -> Project | None:
        """The project the document is a chapter of (looked up again when the document changes)."""
        path = self.document.path
        if self._ctx_project is None or self._ctx_project[0] != path:
            self._ctx_project = (path, project_of(path))
        return self._ctx_project[1]

    def effective_context(self, story: str) -> tuple[ContextTools, str]:
        """The tools and story a continuation uses: in a project's chapter, the project's shared tools too and the end
        of the previous chapter before the story (`scribe.studio.project`)."""
        project, path = self._project(), self.document.path
        if project is None or path is None:
            return self.context_tools, story
        try:
            return project.tools_for(self.context_tools), project.story_for(path.name, story)
        except ProjectError:
            return project.tools_for(self.context_tools), story

    def assemble_context(self, backend: Backend, story: str, params: SamplingParams) -> Assembly:
        """The prompt for continuing `story` with the document's tools (on any thread)."""
        budget = prompt_budget(backend.info.context_length, params.max_new_tokens)
        tools, story = self.effective_context(story)
        return tools.assemble(story, budget, self._counter(backend))

    def assembled_prompt(self, backend: Backend, story: str, params: SamplingParams) -> str:
        """What a continuation of `story` sends: the story alone without tools, else the assembled prompt (called in
        a worker thread)."""
        try:
            tools, full = self.effective_context(story)
            return story if tools.empty and full == story else self.assemble_context(backend, story, params).prompt
        except Exception as exc:  # counting failed (a remote server gone): continue the story alone, and say so
            self.call_from_thread(self.notify, f"context tools not applied: {describe_error(exc)}",
                                  title="Context tools", severity="error", markup=False)
            return story

    def measure_context(self) -> None:
        """Assemble for the status bar's meter in a worker (the meter is cleared when there are no tools)."""
        project, path = self._project(), self.document.path
        tools = self.context_tools if project is None else project.tools_for(self.context_tools)
        if tools.empty and not (project is not None and path is not None and project.includes_previous(path.name)):
            if self.status_bar.status.parts:
                self.status_bar.update_status(parts=())
            return
        if self.backend is None or self.generating:
            return
        self._ctx_request += 1
        self._assemble_worker(self.backend, self._lines_before_cursor(), self._ctx_request, False)

    def action_context_preview(self) -> None:
        """Show the exact prompt the next continuation sends, coloured by source."""
        if not self._model_ready():
            return
        assert self.backend is not None
        self._ctx_request += 1
        self._assemble_worker(self.backend, self._lines_before_cursor(), self._ctx_request, True)

    def _lines_before_cursor(self) -> _StoryLines:
        """The text before the cursor as the editor's lines, for a worker to join: a copy of the list of lines (the
        strings are shared), so the UI thread never copies the text itself."""
        document = self.editor.document
        row, column = self.editor.cursor_location
        lines = document.lines[:row]
        lines.append(document.lines[row][:column])
        return _StoryLines(lines, document.newline)

    @work(thread=True, exclusive=True, exit_on_error=False, group="context", description="assemble context")
    def _assemble_worker(self, backend: Backend, story: _StoryLines, request: int, preview: bool) -> None:
        assembly = self.assemble_context(backend, join_lines(story.lines, story.newline), self.settings.sampling)
        self.post_message(ContextAssembled(request, assembly, preview))

    def on_context_assembled(self, message: ContextAssembled) -> None:
        a = message.assembly
        if message.request == self._ctx_request or message.preview:
            self.status_bar.update_status(
                parts=tuple((s, a.tokens_of(s)) for s in ("memory", "lore", "note", "story") if a.tokens_of(s)),
                prompt_tokens=a.tokens, prompt_budget=a.budget, fired=len(a.lore),
                story_cut=any(c.source == "story" for c in a.cuts))
        if message.preview:
            from scribe.ui.screens.context_preview import ContextPreviewScreen

            self.push_screen(ContextPreviewScreen(a))

    # --- the editor screen

    def action_context_tools(self) -> None:
        """Edit the memory, author's note and lorebook (each change is saved)."""
        from scribe.ui.screens.context_tools import ContextToolsScreen

        self.push_screen(ContextToolsScreen(self.context_tools, self.document.title, self.set_context_tools),
                         self._context_closed)

    def _context_closed(self, _: object = None) -> None:
        try:
            self.flush_context_tools()
        except OSError as exc:
            self.notify(f"context tools not saved: {exc}", severity="error", markup=False)
        self.editor.focus()

    # --- chapters of a project

    def action_chapters(self) -> None:
        """The project's chapters with word counts and a search; enter opens one here, in place (the document is saved
        first; the model stays loaded)."""
        from scribe.ui.screens.chapters import ChaptersScreen

        path = self.document.path
        project = project_of(path)
        if project is None or path is None:
            self.notify("not a chapter of a project: a project is a folder of chapters with a scribe-project.toml",
                        severity="warning")
            return
        self.push_screen(ChaptersScreen(project, path.name, self.editor.text),
                         lambda name: self._open_chapter(project, name))

    def _open_chapter(self, project: Project, name: str | None) -> None:
        """Open chapter `name` the way another file is opened (alt+f): the text, branches, own settings and context
        tools of that chapter, the project's shared tools, the same model. Unsaved changes are saved first; when that
        fails (a conflict asks what to do), the open chapter stays."""
        path = self.document.path
        if name is None or path is None or name == path.name:
            self.editor.focus()
            return
        if self.document.is_dirty(self.editor.text) and not self.save():
            return
        self.flush_context_tools()
        self._open_chosen(str(project.path_of(name)))
