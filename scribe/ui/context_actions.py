"""The document's context tools in the studio (a component the App owns, `ScribeApp.context`): memory, author's note and lorebook, saved
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
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

from scribe.engine.base import Backend, prompt_budget
from scribe.sampling.params import SamplingParams
from scribe.studio.assembly import Assembly, CachedCounter, count_text
from scribe.studio.context import ContextFileError, ContextTools, context_path, load_context, save_context
from scribe.studio.document import Document
from scribe.studio.journal import join_lines
from scribe.studio.project import Project, ProjectError, project_of
from scribe.studio.generation_runs import describe_error

if TYPE_CHECKING:
    from scribe.ui.app import ScribeApp


@dataclass
class ContextAssembled(Message):
    """An assembly made in a worker, for the meter or the preview."""

    request: int
    assembly: Assembly
    preview: bool


@dataclass
class StoryLines:
    """The lines of the text before the cursor (the strings shared with the editor) and the newline joining them."""

    lines: list[str] = field(repr=False)
    newline: str


@dataclass
class ContextSaveFailed(Message):
    """Writing the context file failed."""

    error: str


class DocumentContext:
    """Memory, author's note and lorebook of the open document; the project's chapters."""

    _lock = threading.Lock()
    """Serialises writes of context files (shared by the apps of one process: writes are short)."""

    def __init__(self, app: ScribeApp) -> None:
        self.app = app
        self._tools: ContextTools | None = None
        self._document: Document | None = None
        """The document `_tools` belong to (another document opened here reads its own)."""
        self._error: str | None = None
        self._cached_counter: tuple[Backend, CachedCounter] | None = None
        self._request = 0
        self._cached_project: tuple[Path | None, Project | None] | None = None
        self._pending: tuple[Path, ContextTools] | None = None
        """Tools waiting to be written, and the file they go to (the document's when the change was made)."""

    @property
    def tools(self) -> ContextTools:
        """The document's context tools (read from beside the document the first time, and again when another
        document is opened in the studio)."""
        app = self.app
        if self._tools is None or self._document is not app.document:
            self._document, self._error = app.document, None
            self._tools = ContextTools()
            if app.document.path is not None:
                try:
                    self._tools = load_context(context_path(app.document.path))
                except ContextFileError as exc:  # the unreadable file is kept; changes here are not saved over it
                    self._error = str(exc)
                    app.notify(f"{exc}; context tools are not saved this session", title="Context tools",
                               severity="error", timeout=15, markup=False)
        return self._tools

    def set_tools(self, tools: ContextTools) -> None:
        """Use `tools` from now on and save them (in a worker), then update the meter."""
        if tools == self.tools:
            return
        self._tools = tools
        self.save()
        self.measure()

    def save(self) -> None:
        """Write the tools beside the document, in a worker (nothing while untitled or after a read error)."""
        tools, path = self.tools, self.app.document.path
        if path is None or self._error is not None:
            return
        self._pending = (context_path(path), tools)
        self.app.run_worker(self._save_worker, thread=True, exit_on_error=False, group="context-save",
                            description="save context tools")

    def flush(self) -> None:
        """Write a change not yet on disk now, on this thread (when the editor screen closes)."""
        if self._pending is not None:
            self._write()

    def _save_worker(self) -> None:
        try:
            self._write()
        except OSError as exc:
            self.app.post_message(ContextSaveFailed(str(exc)))

    def _write(self) -> None:
        """Write the newest pending tools, once: workers finishing out of order never write an older version last."""
        with self._lock:
            pending, self._pending = self._pending, None
            if pending is not None:
                save_context(*pending)

    def save_failed(self, message: ContextSaveFailed) -> None:
        """Say that writing the context file failed."""
        self.app.notify(f"context tools not saved: {message.error}", severity="error", markup=False)

    # --- assembly

    def _counter(self, backend: Backend) -> CachedCounter:
        """A token counter for `backend` that remembers paragraphs it counted."""
        if self._cached_counter is None or self._cached_counter[0] is not backend:
            self._cached_counter = (backend, CachedCounter(backend.count_tokens, batch=backend.count_tokens_batch))
        return self._cached_counter[1]

    def _project(self) -> Project | None:
        """The project the document is a chapter of (looked up again when the document changes)."""
        path = self.app.document.path
        if self._cached_project is None or self._cached_project[0] != path:
            self._cached_project = (path, project_of(path))
        return self._cached_project[1]

    def effective(self, story: str) -> tuple[ContextTools, str]:
        """The tools and story a continuation uses: in a project's chapter, the project's shared tools too and the end
        of the previous chapter before the story (`scribe.studio.project`)."""
        project, path = self._project(), self.app.document.path
        if project is None or path is None:
            return self.tools, story
        try:
            return project.tools_for(self.tools), project.story_for(path.name, story)
        except ProjectError:
            return project.tools_for(self.tools), story

    def assemble(self, backend: Backend, story: str, params: SamplingParams) -> Assembly:
        """The prompt for continuing `story` with the document's tools (on any thread)."""
        budget = prompt_budget(backend.info.context_length, params.max_new_tokens)
        tools, story = self.effective(story)
        return tools.assemble(story, budget, self._counter(backend))

    def assembled_prompt(self, backend: Backend, story: str, params: SamplingParams) -> str:
        """What a continuation of `story` sends: the story alone without tools, else the assembled prompt (called in
        a worker thread)."""
        try:
            tools, full = self.effective(story)
            return story if tools.empty and full == story else self.assemble(backend, story, params).prompt
        except Exception as exc:  # counting failed (a remote server gone): continue the story alone, and say so
            self.app.call_from_thread(self.app.notify, f"context tools not applied: {describe_error(exc)}",
                                      title="Context tools", severity="error", markup=False)
            return story

    def measure(self) -> None:
        """Assemble for the status bar's meter in a worker (the meter is cleared when there are no tools)."""
        app = self.app
        project, path = self._project(), app.document.path
        tools = self.tools if project is None else project.tools_for(self.tools)
        if tools.empty and not (project is not None and path is not None and project.includes_previous(path.name)):
            if app.status_bar.status.parts:
                app.status_bar.update_status(parts=())
            return
        if app.backend is None or app.generating:
            return
        self._assemble_in_worker(app.backend, preview=False)

    def preview(self) -> None:
        """Show the exact prompt the next continuation sends, coloured by source."""
        app = self.app
        if not app._model_ready():
            return
        assert app.backend is not None
        self._assemble_in_worker(app.backend, preview=True)

    def _assemble_in_worker(self, backend: Backend, *, preview: bool) -> None:
        """Assemble the text before the cursor in a worker (a newer request replaces an older one)."""
        self._request += 1
        work = partial(self._assemble_worker, backend, self.lines_before_cursor(), self._request, preview)
        self.app.run_worker(work, thread=True, exclusive=True, exit_on_error=False, group="context",
                            description="assemble context")

    def lines_before_cursor(self, start: tuple[int, int] = (0, 0)) -> StoryLines:
        """The text from `start` to the cursor as the editor's lines, for a worker to join: a copy of the list of lines
        (the strings are shared), so the UI thread never copies the text itself."""
        editor = self.app.editor
        document = editor.document
        (first, offset), (row, column) = start, editor.cursor_location
        lines = document.lines[first:row]
        lines.append(document.lines[row][:column])
        lines[0] = lines[0][offset:] if first < row else document.lines[row][offset:column]
        return StoryLines(lines, document.newline)

    def count_before_cursor(self, backend: Backend, story: StoryLines) -> int:
        """Tokens of the text before the cursor (`story`, joined here), counted by paragraph through the counter the
        assembly uses: after a pause in typing only the paragraphs that changed are counted again (on any thread)."""
        return count_text(join_lines(story.lines, story.newline), self._counter(backend))

    def _assemble_worker(self, backend: Backend, story: StoryLines, request: int, preview: bool) -> None:
        assembly = self.assemble(backend, join_lines(story.lines, story.newline), self.app.settings.sampling)
        self.app.post_message(ContextAssembled(request, assembly, preview))

    def assembled(self, message: ContextAssembled) -> None:
        """Show an assembly made in a worker on the meter, and in the preview when it was asked for."""
        app, a = self.app, message.assembly
        if message.request == self._request or message.preview:
            app.status_bar.update_status(
                parts=tuple((s, a.tokens_of(s)) for s in ("memory", "lore", "note", "story") if a.tokens_of(s)),
                prompt_tokens=a.tokens, prompt_budget=a.budget, fired=len(a.lore),
                story_cut=any(c.source == "story" for c in a.cuts))
        if message.preview:
            from scribe.ui.screens.context_preview import ContextPreviewScreen

            app.push_screen(ContextPreviewScreen(a))

    # --- the editor screen

    def edit(self) -> None:
        """Edit the memory, author's note and lorebook (each change is saved)."""
        from scribe.ui.screens.context_tools import ContextToolsScreen

        self.app.push_screen(ContextToolsScreen(self.tools, self.app.document.title, self.set_tools), self._closed)

    def _closed(self, _: object = None) -> None:
        try:
            self.flush()
        except OSError as exc:
            self.app.notify(f"context tools not saved: {exc}", severity="error", markup=False)
        self.app.editor.focus()

    # --- chapters of a project

    def chapters(self) -> None:
        """The project's chapters with word counts and a search; enter opens one here, in place (the document is saved
        first; the model stays loaded)."""
        from scribe.ui.screens.chapters import ChaptersScreen

        app = self.app
        path = app.document.path
        project = project_of(path)
        if project is None or path is None:
            app.notify("not a chapter of a project: a project is a folder of chapters with a scribe-project.toml",
                       severity="warning")
            return
        app.push_screen(ChaptersScreen(project, path.name, app.editor.text),
                        lambda name: self._open_chapter(project, name))

    def _open_chapter(self, project: Project, name: str | None) -> None:
        """Open chapter `name` the way another file is opened (alt+f): the text, branches, own settings and context
        tools of that chapter, the project's shared tools, the same model. Unsaved changes are saved first; when that
        fails (a conflict asks what to do), the open chapter stays."""
        app = self.app
        path = app.document.path
        if name is None or path is None or name == path.name:
            app.editor.focus()
            return
        if app.document.is_dirty(app.editor.text):
            app.save(then=partial(self._open_chapter, project, name))  # opened once saved
            return
        self.flush()
        app._open_chosen(str(project.path_of(name)))
