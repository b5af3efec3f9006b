"""§1 in the studio: a save over a file changed on disk asks (overwrite, reload keeping a copy, save as, show the
difference); the studio notices the change at autosave and when the window regains focus; a read-only file offers
"save as"; a second scribe on the same file warns, and a crashed one does not leave the warning behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from textual import events
from textual.app import App

from scribe.config import Settings
from scribe.ui.app import ScribeApp
from scribe.ui.screens.dialogs import SaveAsScreen
from scribe.ui.screens.save_conflict import SaveConflictScreen

from .conftest import SIZE


def _edit_elsewhere(file: Path, text: str) -> None:
    file.write_text(text, encoding="utf-8")
    info = file.stat()
    os.utime(file, ns=(info.st_atime_ns, info.st_mtime_ns + 2_000_000_000))


def _rendered(app: App) -> str:
    """The text of every widget on the active screen."""
    return "\n".join(str(w.render()) for w in app.screen.query("Label, Static, Button"))


async def _type_and_save(app: ScribeApp, pilot, words: str) -> None:
    app.editor.move_cursor(app.editor.document.end)
    await pilot.press(*words)
    await pilot.press("ctrl+s")
    await pilot.pause()


async def test_saving_over_a_changed_file_asks_and_shows_the_difference(settings: Settings, tmp_path: Path) -> None:
    file = tmp_path / "story.txt"
    file.write_text("It began.\n", encoding="utf-8")
    app = ScribeApp(file, settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        _edit_elsewhere(file, "It began.\nA line from the other editor.\n")
        await _type_and_save(app, pilot, "Mine.")
        assert isinstance(app.screen, SaveConflictScreen)
        assert "changed on disk" in _rendered(app)
        assert file.read_text(encoding="utf-8") == "It began.\nA line from the other editor.\n"
        await pilot.press("d")
        await pilot.pause()
        diff = str(app.screen.query_one("#conflict-diff-text").render())
        assert "-A line from the other editor." in diff and "+Mine." in diff
        assert app.screen.query_one("#conflict-diff").display
        await pilot.press("o")
        await pilot.pause()
        assert not isinstance(app.screen, SaveConflictScreen)
    assert file.read_text(encoding="utf-8") == "It began.\nMine."


async def test_reload_keeps_the_writers_text_as_a_copy(settings: Settings, tmp_path: Path, messages) -> None:
    file = tmp_path / "story.txt"
    file.write_text("Original.", encoding="utf-8")
    app = ScribeApp(file, settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        _edit_elsewhere(file, "Theirs.")
        await _type_and_save(app, pilot, " Mine.")
        await pilot.press("r")
        await pilot.pause()
        assert app.editor.text == "Theirs."
        copies = [p for p in tmp_path.iterdir() if p.name.startswith("story (your copy")]
        assert len(copies) == 1 and copies[0].read_text(encoding="utf-8") == "Original. Mine."
        assert any(copies[0].name in m for m in messages(app))
        await _type_and_save(app, pilot, " Then mine again.")  # the reloaded file saves without asking
        assert not isinstance(app.screen, SaveConflictScreen)
    assert file.read_text(encoding="utf-8") == "Theirs. Then mine again."


async def test_save_elsewhere_and_cancel_leave_the_changed_file_alone(settings: Settings, tmp_path: Path) -> None:
    file = tmp_path / "story.txt"
    file.write_text("Original.", encoding="utf-8")
    app = ScribeApp(file, settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        _edit_elsewhere(file, "Theirs.")
        await _type_and_save(app, pilot, " Mine.")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, SaveConflictScreen) and app.editor.text == "Original. Mine."
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, SaveAsScreen)
        await pilot.press(*str(tmp_path / "elsewhere.txt"), "enter")
        await pilot.pause()
    assert file.read_text(encoding="utf-8") == "Theirs."
    assert (tmp_path / "elsewhere.txt").read_text(encoding="utf-8") == "Original. Mine."


async def test_a_change_on_disk_is_noticed_at_autosave_and_on_focus(settings: Settings, tmp_path: Path,
                                                                 messages) -> None:
    file = tmp_path / "story.txt"
    file.write_text("Original.", encoding="utf-8")
    app = ScribeApp(file, settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.autosave()
        assert not any("changed on disk" in m for m in messages(app))
        _edit_elsewhere(file, "Theirs.")
        app.autosave()
        await pilot.pause()
        assert sum("changed on disk" in m for m in messages(app)) == 1
        app.autosave()  # the same change is told once
        await pilot.pause()
        assert sum("changed on disk" in m for m in messages(app)) == 1
        _edit_elsewhere(file, "Theirs, again.")
        app.post_message(events.AppFocus())
        await pilot.pause()
        assert sum("changed on disk" in m for m in messages(app)) == 2
        file.unlink()
        app.post_message(events.AppFocus())
        await pilot.pause()
        assert any("was removed" in m for m in messages(app))


async def test_a_read_only_file_is_kept_and_save_as_offered(settings: Settings, tmp_path: Path, messages) -> None:
    file = tmp_path / "locked.txt"
    file.write_text("keep", encoding="utf-8")
    os.chmod(file, 0o444)
    app = ScribeApp(file, settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await _type_and_save(app, pilot, " more")
        assert isinstance(app.screen, SaveAsScreen)
        assert any("read-only" in m and "locked.txt" in m for m in messages(app))
    assert file.read_text(encoding="utf-8") == "keep"


async def test_a_second_scribe_on_the_same_file_warns(settings: Settings, tmp_path: Path,
                                                      messages: Callable[[App], list[str]]) -> None:
    file = tmp_path / "shared.txt"
    file.write_text("text", encoding="utf-8")
    first = ScribeApp(file, settings=settings)
    async with first.run_test(size=SIZE) as pilot:
        await pilot.pause()
        second = ScribeApp(file, settings=settings)
        async with second.run_test(size=SIZE) as pilot2:
            await pilot2.pause()
            assert any("open in another scribe" in m and str(os.getpid()) in m for m in messages(second))
        assert not any("open in another scribe" in m for m in messages(first))


async def test_a_crashed_scribe_leaves_no_lock_behind(settings: Settings, tmp_path: Path, messages) -> None:
    file = tmp_path / "crashed.txt"
    file.write_text("text", encoding="utf-8")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from scribe.config import Paths\n"
        "from scribe.studio.journal import Journal\n"
        f"assert Journal(Paths.discover().autosave).claim({str(file)!r})\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n")], stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        app = ScribeApp(file, settings=settings)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert any("open in another scribe" in m and str(holder.pid) in m for m in messages(app))
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    time.sleep(0.1)
    app = ScribeApp(file, settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not any("open in another scribe" in m for m in messages(app))


async def test_the_studio_keeps_line_endings_and_the_final_newline(settings: Settings, tmp_path: Path) -> None:
    for name, data in (("crlf.txt", b"one\r\ntwo\r\n"), ("bare.txt", b"one\ntwo"), ("ending.txt", b"one\n")):
        file = tmp_path / name
        file.write_bytes(data)
        app = ScribeApp(file, settings=settings)
        async with app.run_test(size=SIZE) as pilot:
            app.editor.move_cursor((0, 3))
            await pilot.press("!")
            await pilot.press("ctrl+s")
            await pilot.pause()
        assert file.read_bytes() == data.replace(b"one", b"one!", 1), name


async def test_reloading_a_removed_file_keeps_the_text(settings: Settings, tmp_path: Path, messages) -> None:
    file = tmp_path / "gone.txt"
    file.write_text("Words.", encoding="utf-8")
    app = ScribeApp(file, settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        file.unlink()
        await _type_and_save(app, pilot, " More.")
        assert isinstance(app.screen, SaveConflictScreen) and "was removed" in _rendered(app)
        await pilot.press("r")
        await pilot.pause()
        assert app.editor.text == "Words. More."
        assert any("was removed; nothing to reload" in m for m in messages(app))
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.press("o")
        await pilot.pause()
    assert file.read_text(encoding="utf-8") == "Words. More."
