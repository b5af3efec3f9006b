"""Opening another file without restarting: a typed path or a recent one; its text, branches and own settings come
with it, and a document with unsaved changes is not left behind by surprise."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, OptionList
from writing_helpers import (
    SIZE,
    bundled_settings,
    pane_text,
    settle,
    story_with_two_branches,
)

from scribe.studio.layered_settings import save_document_settings
from scribe.ui.app import ScribeApp
from scribe.ui.screens.dialogs import OpenScreen


async def test_open_a_typed_path_then_a_recent_one(tmp_path: Path) -> None:
    story, _, _ = story_with_two_branches(tmp_path)  # "Once", its long branch shown
    save_document_settings(story, {"drafts": 5})
    notes = tmp_path / "notes.txt"
    notes.write_text("Shopping list", encoding="utf-8")
    app = ScribeApp(notes, settings=bundled_settings())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("alt+f")
        await pilot.pause()
        assert isinstance(app.screen, OpenScreen)
        app.screen.query_one(Input).value = str(story)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.editor.text == "Once" and app.document.path == story
        assert "the long branch, line 4" in pane_text(app), "the document's branches came with it"
        assert app.settings.drafts == 5 and app.editor.border_title == "story.txt"

        await pilot.press("x")  # unsaved: opening another is refused, nothing lost
        await pilot.press("alt+f")
        await pilot.pause()
        assert not isinstance(app.screen, OpenScreen) and app.editor.text.startswith("Once")
        await pilot.press("ctrl+s")
        await settle(app, pilot)

        await pilot.press("alt+f")
        await pilot.pause()
        recent = app.screen.query_one(OptionList)
        assert str(recent.get_option_at_index(0).prompt) == str(notes)
        recent.focus()
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.editor.text == "Shopping list" and app.document.path == notes
        assert app.settings.drafts == 3 and pane_text(app) == ""
