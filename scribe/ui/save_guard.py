"""Guarding the writer's file (a component the App owns, `ScribeApp.save_guard`): saving, in a worker for a long text;
a save that would overwrite changes made on disk by someone else asks first (`SaveConflictScreen`), the file is checked
when the window regains focus and at each autosave, and the journal is written about a second after typing pauses.

A save takes the text as it is when the writer saves: a copy of the editor's lines (the strings are shared; about 10 ms
for a 50 MB text), in a numpy object array, which the garbage collector does not walk (a new list of a 50 MB text's
1.8 million lines made each young collection walk it: 70 ms stalls while the writer typed on). `Document.save` then
joins, encodes and writes it (the conflict check, the atomic write through links keeping the mode, the read-only
refusal), in a worker when the text is long, so the writer types on meanwhile; "saved", the journal's clearing and
whatever waits for the save (quitting, opening a chapter) come once the file is written. Edits made during the save
stay unsaved (the document shows modified) and are journalled again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

from scribe.files import DiskState, atomic_write, describe_os_error
from scribe.studio.document import Document, DocumentError, ReadOnlyDocument, SaveConflict, copy_beside
from scribe.studio.journal import join_lines
from scribe.ui.screens.dialogs import SaveAsScreen
from scribe.ui.screens.save_conflict import ConflictChoice, SaveConflictScreen, difference

if TYPE_CHECKING:
    from textual.timer import Timer

    from scribe.ui.app import ScribeApp

JOURNAL_DELAY_SECONDS = 1.0
"""Quiet time after the last edit before the text is journalled (a kill -9 loses at most about this much)."""
BACKGROUND_SAVE_CHARS = 1_000_000
"""A text this long or longer is joined, encoded and written in a worker (a 50 MB text takes about a second); a shorter
one at once, on the UI thread (milliseconds: "saved" comes with the key)."""


@dataclass
class SaveJob:
    """One save: the text as it was when the writer saved, where it goes, and what waits for it."""

    document: Document
    lines: Sequence[str] = field(repr=False)
    """A copy of the editor's lines (`line_snapshot`)."""
    newline: str
    version: int
    """The editor's edit counter when the lines were taken."""
    path: Path | None
    overwrite: bool
    untitled: bool
    then: list[Callable[[], object]] = field(default_factory=list)
    """What runs once the file is written (quitting, opening another chapter)."""

    def run(self) -> Path | DocumentError:
        """Join, encode and write the text (`Document.save`); the path written, or why nothing was."""
        try:
            return self.document.save(join_lines(self.lines, self.newline), self.path, overwrite=self.overwrite)
        except DocumentError as exc:
            return exc


def line_snapshot(lines: list[str]) -> Sequence[str]:
    """A copy of `lines` that the garbage collector does not walk (see the module's docstring)."""
    import numpy

    return numpy.fromiter(lines, dtype=object, count=len(lines))  # type: ignore[return-value]


class SaveFinished(Message):
    """A save in a worker ended: `outcome` is the path written, or why nothing was."""

    def __init__(self, job: SaveJob, outcome: Path | DocumentError) -> None:
        super().__init__()
        self.job = job
        self.outcome = outcome


class SaveGuard:
    """Conflict checks before saving, on focus and at autosave; journalling when typing pauses."""

    def __init__(self, app: ScribeApp) -> None:
        self.app = app
        self.disk_noticed: DiskState | None = None
        """The file's state on disk last told to the writer (each change is told once)."""
        self._journal_timer: Timer | None = None
        self.saving: SaveJob | None = None
        """The save being written in a worker, if any."""
        self._queued: tuple[Path | None, bool, list[Callable[[], object]]] | None = None
        """A save asked for while one was being written: (path, overwrite, what waits for it)."""

    def save(self, path: Path | None = None, *, overwrite: bool = False,
             then: Callable[[], object] | None = None) -> None:
        """Save the editor's text as it is now to `path` (default: the document's file); `then` runs once it is
        written. A save asked for while another is being written starts when that one ends."""
        self._start(path, overwrite, [then] if then is not None else [])

    def _start(self, path: Path | None, overwrite: bool, waiting: list[Callable[[], object]]) -> None:
        if self.saving is not None:
            earlier = self._queued[2] if self._queued is not None else []
            self._queued = (path, overwrite, earlier + waiting)
            return
        app = self.app
        document = app.editor.document
        job = SaveJob(app.document, line_snapshot(document.lines), document.newline, app._version, path, overwrite,
                      app.document.path is None, waiting)
        if app.editor.text_length < BACKGROUND_SAVE_CHARS:
            self.finish(job, job.run())
            return
        self.saving = job
        name = (path or app.document.path or Path("untitled")).name
        app.notify(f"saving {name}…", markup=False)
        app.run_worker(partial(self._write, job), thread=True, group="save", description="save", exit_on_error=False)

    def _write(self, job: SaveJob) -> None:
        """(A worker) write the text and tell the app how it went."""
        try:
            outcome = job.run()
        except Exception as exc:  # anything else that went wrong still ends the save, saying why
            outcome = DocumentError(f"cannot save: {exc}")
        self.app.post_message(SaveFinished(job, outcome))

    def finish(self, job: SaveJob, outcome: Path | DocumentError) -> None:
        """A save ended: say so; on success clear the journal of what was saved and run what waited for it (or start
        the save asked for meanwhile, which it then waits for)."""
        app = self.app
        if job is self.saving:
            self.saving = None
        queued, self._queued = self._queued, None
        if isinstance(outcome, SaveConflict):
            self.ask_about_conflict(outcome)
            return
        if isinstance(outcome, ReadOnlyDocument):
            app.notify(str(outcome), title="Not saved", severity="error", markup=False)
            app.push_screen(SaveAsScreen(), app.save_as)
            return
        if isinstance(outcome, DocumentError):
            app.notify(str(outcome), title="Not saved", severity="error", markup=False)
            return
        if job.document is app.document:
            if job.untitled:
                app.autosaver.rekey(str(outcome))
                if app.branch_error is None:
                    app.branches.attach(outcome)
                    app.branching.save()
                app.context.save()
            app.autosaver.clear(job.version)
            if app._version != job.version:  # typed during the save: the journal gets those edits again
                app.journal_again()
            app._update_document_status()
        app.notify(f"saved {outcome}", markup=False)
        if queued is not None:
            path, overwrite, waiting = queued
            self._start(path, overwrite, job.then + waiting)
            return
        for then in job.then:
            then()

    def ask_about_conflict(self, conflict: SaveConflict) -> None:
        """Show what changed and ask: overwrite, reload (keeping the writer's text as a copy), save as, or cancel."""
        app = self.app
        path = app.document.path
        assert path is not None
        mine = app.editor.text
        try:
            on_disk: str | None = Document.open(path).saved_text
        except DocumentError:
            on_disk = None
        copy = copy_beside(path)
        screen = SaveConflictScreen(str(conflict), difference(on_disk, mine, path.name), copy.name)
        app.push_screen(screen, partial(self._conflict_choice, copy=copy))

    def _conflict_choice(self, choice: ConflictChoice | None, copy: Path) -> None:
        if choice == "overwrite":
            self.app.save(overwrite=True)
        elif choice == "reload":
            self.reload_keeping_copy(copy)
        elif choice == "save_as":
            self.app.push_screen(SaveAsScreen(), self.app.save_as)

    def reload_keeping_copy(self, copy: Path) -> bool:
        """Write the writer's text to `copy`, then load the file as it is on disk now; nothing is lost on failure."""
        app = self.app
        try:
            atomic_write(copy, app.document.encoded(app.editor.text))
        except OSError as exc:
            app.notify(f"your text was not copied ({describe_os_error(exc, copy)}); nothing reloaded",
                        title="Not reloaded", severity="error", markup=False)
            return False
        try:
            app.document.reload()
        except DocumentError as exc:
            app.notify(f"{exc}; your text is also in {copy}", title="Not reloaded", severity="error", markup=False)
            return False
        editor = app.editor
        editor.replace(app.document.saved_text, editor.document.start, editor.document.end)
        self.disk_noticed = None
        app.autosaver.clear(app._version)
        app._update_document_status()
        app.notify(f"reloaded {app.document.path}; your text is kept in {copy}", markup=False, timeout=10)
        return True

    def check_disk(self) -> None:
        """Tell the writer (once per change) when the file changed on disk since it was read or saved (not while
        a save is writing it)."""
        if self.saving is not None:
            return
        now = self.app.document.changed_on_disk()
        if now is None or now == self.disk_noticed:
            return
        self.disk_noticed = now
        what = "was removed" if now.size < 0 else "changed on disk"
        self.app.notify(f"{self.app.document.path} {what} since you opened it; saving will ask what to do",
                    title="File changed", severity="warning", timeout=10, markup=False)

    def report_journal_problems(self) -> None:
        """Tell the writer about damaged journal entries found (each was moved aside, nothing was overwritten)."""
        for problem in self.app.journal.take_problems():
            self.app.notify(problem, title="Journal entry not used", severity="warning", timeout=15, markup=False)

    def schedule_journal(self) -> None:
        """Journal the text once typing has paused for `JOURNAL_DELAY_SECONDS`."""
        if self._journal_timer is not None:
            self._journal_timer.stop()
        self._journal_timer = self.app.set_timer(JOURNAL_DELAY_SECONDS, self.app.autosave)
