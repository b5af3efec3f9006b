"""Guarding the writer's file (a component the App owns, `ScribeApp.save_guard`): a save that would overwrite changes
made on disk by someone else asks first (`SaveConflictScreen`), the file is checked when the window regains focus and
at each autosave, and the journal is written about a second after typing pauses."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from scribe.files import DiskState, atomic_write, describe_os_error
from scribe.studio.document import Document, DocumentError, SaveConflict, copy_beside
from scribe.ui.screens.dialogs import SaveAsScreen
from scribe.ui.screens.save_conflict import ConflictChoice, SaveConflictScreen, difference

if TYPE_CHECKING:
    from textual.timer import Timer

    from scribe.ui.app import ScribeApp

JOURNAL_DELAY_SECONDS = 1.0
"""Quiet time after the last edit before the text is journalled (a kill -9 loses at most about this much)."""


class SaveGuard:
    """Conflict checks before saving, on focus and at autosave; journalling when typing pauses."""

    def __init__(self, app: ScribeApp) -> None:
        self.app = app
        self.disk_noticed: DiskState | None = None
        """The file's state on disk last told to the writer (each change is told once)."""
        self._journal_timer: Timer | None = None

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
        """Tell the writer (once per change) when the file changed on disk since it was read or saved."""
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
