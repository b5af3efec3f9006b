"""§1 and §3: a long document is saved in a worker while the writer types on. The file holds the text as it was when
the writer saved; keys typed during the save stay unsaved (the document shows modified) and are journalled; quitting
during the save says so and quits once the file is written; a read-only file is still refused with "save as"."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from textual import events

from scribe.config import Paths, Settings
from scribe.studio.journal import Journal
from scribe.ui.app import ScribeApp
from scribe.ui.save_guard import BACKGROUND_SAVE_CHARS
from scribe.ui.screens.dialogs import SaveAsScreen

from .conftest import SIZE
from .test_large_document import huge_text


def long_file(folder: Path) -> tuple[Path, str]:
    text = huge_text(3)
    assert len(text) >= 2 * BACKGROUND_SAVE_CHARS
    file = folder / "long.txt"
    file.write_text(text, encoding="utf-8")
    return file, text


async def type_keys(app: ScribeApp, keys: str) -> None:
    """Keys as the terminal hands them over (queued behind whatever the app has to do)."""
    for key in keys:
        app.post_message(events.Key("space" if key == " " else key, key))


async def test_keys_typed_during_a_save_stay_unsaved_and_are_journalled(settings: Settings, tmp_path: Path,
                                                                        messages) -> None:
    file, text = long_file(tmp_path)
    app = ScribeApp(file, settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        editor = app.editor
        await pilot.press(*"Saved.")
        app.save()  # what ctrl+s does; then, before the UI thread does anything else, more typing
        assert app.save_guard.saving is not None
        editor.insert(" Later", editor.document.end)
        await type_keys(app, " and more.")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.save_guard.saving is None
        assert "saving long.txt…" in messages(app) and f"saved {file}" in messages(app)
        assert file.read_text(encoding="utf-8") == text + "Saved."
        assert editor.text == text + "Saved. Later and more."
        await app.workers.wait_for_complete()  # the journal written again after the save cleared it
        entry = Journal(Paths.discover().autosave).read(str(file))
        assert entry is not None and entry.text == editor.text
        await pilot.pause(0.6)  # the status is redrawn after typing pauses
        assert app.status_bar.status.modified and editor.border_title.endswith("●")
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause(0.6)
        assert not app.status_bar.status.modified
        assert Journal(Paths.discover().autosave).read(str(file)) is None
    assert file.read_text(encoding="utf-8") == text + "Saved. Later and more."


async def test_quitting_during_a_save_quits_once_the_file_is_written(settings: Settings, tmp_path: Path,
                                                                     messages) -> None:
    file, text = long_file(tmp_path)
    app = ScribeApp(file, settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press(*"Last words.")
        app.save()
        await app.action_quit()  # ctrl+q while the text is being written
        assert app.is_running and app.save_guard.saving is not None
        for _ in range(200):
            if not app.is_running:
                break
            await asyncio.sleep(0.05)
        assert not app.is_running
        assert any("quits once it is written" in m for m in messages(app))
    assert file.read_text(encoding="utf-8") == text + "Last words."
    assert Journal(Paths.discover().autosave).read(str(file)) is None


async def test_a_long_read_only_file_is_kept_and_save_as_offered(settings: Settings, tmp_path: Path,
                                                                 messages) -> None:
    file, text = long_file(tmp_path)
    os.chmod(file, 0o444)
    app = ScribeApp(file, settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press(*" more", "ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, SaveAsScreen)
        assert any("read-only" in m and "long.txt" in m for m in messages(app))
        assert not any(m.startswith("saved") for m in messages(app))
        await pilot.press(*str(tmp_path / "copy.txt"), "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert file.read_text(encoding="utf-8") == text
    assert (tmp_path / "copy.txt").read_text(encoding="utf-8") == text + " more"


async def test_ctrl_s_right_after_a_burst_of_keys_saves_them_all(settings: Settings, tmp_path: Path) -> None:
    for file, text in (long_file(tmp_path), (tmp_path / "short.txt", "Short.")):
        file.write_text(text, encoding="utf-8")
        app = ScribeApp(file, settings=settings)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await type_keys(app, "Hello")  # handed over at once, as a terminal does with fast typing or a paste
            app.post_message(events.Key("ctrl+s", None))  # a priority binding: the app sees it before the editor
            await type_keys(app, "After")  # has taken the keys before it
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.editor.text == text + "HelloAfter"
        assert file.read_text(encoding="utf-8") == text + "Hello", file.name
