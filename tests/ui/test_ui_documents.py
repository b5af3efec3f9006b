"""Opening, saving, autosaving and recovering documents in the TUI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scribe.config import Paths, Settings
from scribe.studio.document import Document
from scribe.studio.journal import Journal, new_untitled_key
from scribe.ui.app import ScribeApp
from scribe.ui.screens.dialogs import ConfirmQuitScreen, RecoverScreen, SaveAsScreen

SIZE = (110, 32)


def journal() -> Journal:
    return Journal(Paths.discover().autosave)


async def test_the_file_opens_and_ctrl_s_saves_it(settings: Settings, tmp_path: Path) -> None:
    file = tmp_path / "notes.txt"
    file.write_text("Line one.\n", encoding="utf-8")
    app = ScribeApp(file, settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        assert app.editor.text == "Line one.\n"
        app.editor.move_cursor((1, 0))
        await pilot.press(*"Line two.")
        await pilot.press("ctrl+s")
        assert file.read_text(encoding="utf-8") == "Line one.\nLine two."
        await pilot.pause(0.5)
        assert not app.status_bar.status.modified


async def test_a_binary_file_shows_an_error_and_opens_nothing(settings: Settings, tmp_path: Path, errors) -> None:
    file = tmp_path / "photo.jpg"
    data = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01"
    file.write_bytes(data)
    app = ScribeApp(file, settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert any("binary" in text and "photo.jpg" in text for text in errors(app))
        assert app.document.path is None and app.editor.text == ""
        await pilot.press(*"new words")
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, SaveAsScreen)
    assert file.read_bytes() == data


async def test_autosave_journals_the_text_and_a_save_clears_it(settings: Settings, tmp_path: Path) -> None:
    file = tmp_path / "draft.txt"
    file.write_text("Draft.", encoding="utf-8")
    app = ScribeApp(file, settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        app.editor.move_cursor((0, 6))
        await pilot.press(*" More.")
        app.autosave()
        await app.workers.wait_for_complete()
        entry = journal().read(str(file.absolute()))
        assert entry is not None and entry.text == "Draft. More." and entry.path == str(file.absolute())
        assert entry.disk_hash == Document.open(file).disk_hash
        assert file.read_text(encoding="utf-8") == "Draft."
        await pilot.press("ctrl+s")
        assert journal().read(str(file.absolute())) is None
        assert file.read_text(encoding="utf-8") == "Draft. More."


async def test_a_journal_left_by_a_crash_is_offered_and_restored(settings: Settings, tmp_path: Path) -> None:
    file = tmp_path / "story.txt"
    file.write_text("It began.", encoding="utf-8")
    doc = Document.open(file)
    journal().write(doc.key, "It began. Then the unsaved part.", path=doc.path, disk_hash=doc.disk_hash)
    app = ScribeApp(file, settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, RecoverScreen)
        await pilot.press("r")
        assert not isinstance(app.screen, RecoverScreen)
        assert app.editor.text == "It began. Then the unsaved part."
        await pilot.press("ctrl+z")
        assert app.editor.text == "It began."
        await pilot.press("ctrl+y")
        await pilot.press("ctrl+s")
    assert file.read_text(encoding="utf-8") == "It began. Then the unsaved part."
    assert journal().read(doc.key) is None


async def test_discarding_recovered_text_removes_the_entry(settings: Settings, tmp_path: Path) -> None:
    file = tmp_path / "story.txt"
    file.write_text("It began.", encoding="utf-8")
    doc = Document.open(file)
    journal().write(doc.key, "something unsaved", path=doc.path, disk_hash=doc.disk_hash)
    app = ScribeApp(file, settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("d")
        assert app.editor.text == "It began." and journal().read(doc.key) is None


async def test_an_orphaned_untitled_journal_is_offered_to_an_untitled_start(settings: Settings, tmp_path: Path) -> None:
    key = new_untitled_key()
    journal().write(key, "words never saved", path=None, disk_hash=None)
    app = ScribeApp(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, RecoverScreen)
        await pilot.press("r")
        assert app.editor.text == "words never saved"
        assert app.autosaver.key == key
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, SaveAsScreen)
        await pilot.press(*str(tmp_path / "rescued.txt"), "enter")
    assert (tmp_path / "rescued.txt").read_text(encoding="utf-8") == "words never saved"
    assert journal().read(key) is None


async def test_quitting_with_unsaved_changes_asks_and_a_clean_quit_clears_the_journal(
    settings: Settings, tmp_path: Path
) -> None:
    file = tmp_path / "q.txt"
    file.write_text("Keep.", encoding="utf-8")
    app = ScribeApp(file, settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"x")
        app.autosave_now()
        assert journal().read(str(file.absolute())) is not None
        await pilot.press("ctrl+q")
        assert isinstance(app.screen, ConfirmQuitScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, ConfirmQuitScreen) and app.is_running
        await pilot.press("ctrl+q")
        await pilot.press("s")
    assert file.read_text(encoding="utf-8") == "Keep.x"
    assert journal().read(str(file.absolute())) is None


async def test_an_unexpected_exit_journals_the_unsaved_text(settings: Settings, tmp_path: Path) -> None:
    file = tmp_path / "e.txt"
    file.write_text("Base.", encoding="utf-8")
    app = ScribeApp(file, settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"typed ")
        app.exit()
    entry = journal().read(str(file.absolute()))
    assert entry is not None and entry.text == "Base.typed "


def test_importing_the_ui_imports_no_heavy_library() -> None:
    code = ("import sys, scribe.ui.app, scribe.commands.tui; "
            "print(sorted(m for m in ('torch', 'transformers', 'tensorflow', 'httpx') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
