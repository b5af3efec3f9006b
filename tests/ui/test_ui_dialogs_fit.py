"""The studio's dialogs fit an 80-column terminal: every button shows its whole label, no line runs past the
screen's edge (the file-changed question was 90 columns wide, its Cancel button cut even in a wide terminal) and a
line of keys wraps rather than ending mid-word."""

from __future__ import annotations

import pytest
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button
from writing_helpers import bundled_settings, screen_text, settle

from scribe.studio.presets import Preset
from scribe.ui.app import ScribeApp
from scribe.ui.screens.dialogs import ConfirmQuitScreen
from scribe.ui.screens.export import ExportScreen
from scribe.ui.screens.presets import PresetScreen
from scribe.ui.screens.save_conflict import SaveConflictScreen

MESSAGE = "/tmp/story.txt: changed on disk since it was opened or saved; not saved"


def dialogs() -> dict[str, ModalScreen]:
    """A fresh instance of each dialog checked, by name."""
    return {
        "conflict": SaveConflictScreen(MESSAGE, "-theirs\n+mine", "story (your copy).txt"),
        "presets": PresetScreen({"calm": Preset(name="calm", values={"temperature": 0.7})}, None),
        "export": ExportScreen(None),
        "quit": ConfirmQuitScreen("story.txt"),
    }


@pytest.mark.parametrize("width", [80, 140])
@pytest.mark.parametrize("name", ["conflict", "presets", "export", "quit"])
async def test_a_dialog_fits_the_terminal_and_shows_whole_buttons(name: str, width: int) -> None:
    app = ScribeApp(settings=bundled_settings())
    async with app.run_test(size=(width, 30)) as pilot:
        await settle(app, pilot)
        await app.push_screen(dialogs()[name])
        await pilot.pause()
        box = app.screen.query_one(Vertical)
        assert box.region.right <= width, f"the {name} dialog ends at column {box.region.right} of {width}"
        shown = screen_text(app)
        for button in app.screen.query(Button):
            label = str(button.label)
            assert label in shown, f"{label!r} is cut in the {name} dialog at {width} columns:\n{shown}"
        if name == "conflict":
            assert "not saved" in shown and "story (your copy).txt." in shown


async def test_the_context_tools_keys_line_wraps_in_an_80_column_terminal(tmp_path) -> None:
    story = tmp_path / "story.txt"
    story.write_text("The rain had not stopped.", encoding="utf-8")
    app = ScribeApp(story, settings=bundled_settings())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("alt+c")
        await pilot.pause()
        words = " ".join(screen_text(app).replace("█", " ").split())
        assert "closes · every change is saved" in words, words
