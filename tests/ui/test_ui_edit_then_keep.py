"""Edit, then keep: Tab accepts only from the text (never from the settings panel or a form), the continuation can be
edited before it is kept, and part of it can be kept (a word, a sentence, up to a point) leaving the rest offered."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input
from writing_helpers import (
    SHORT,
    SIZE,
    bundled_settings,
    pane_text,
    settle,
    story_with_two_branches,
)

from scribe.ui.app import ScribeApp


async def test_tab_in_the_settings_panel_moves_between_fields_and_never_accepts(tmp_path: Path) -> None:
    story, _, short_id = story_with_two_branches(tmp_path)
    app = ScribeApp(story, settings=bundled_settings())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("alt+right", "f2")
        await pilot.pause()
        assert app.focused is app.settings_panel.input_for("model")
        for _ in range(5):
            await pilot.press("tab")
            await pilot.pause()
            assert isinstance(app.focused, Input) and app.focused.id != "setting-model"
            assert app.editor.text == "Once", "tab in the panel accepted the continuation"
        await pilot.press("ctrl+t")
        assert app.editor.text == "Once"
        assert app.branches.current is not None and app.branches.current.id == short_id
        assert pane_text(app) == SHORT.rstrip()
        await pilot.press("f2")  # back to the text: tab accepts there
        await pilot.pause()
        assert app.focused is app.editor
        await pilot.press("tab")
        assert app.editor.text == "Once" + SHORT


async def test_keep_a_word_then_a_sentence_and_the_rest_stays_offered(tmp_path: Path) -> None:
    story, _, short_id = story_with_two_branches(tmp_path)
    app = ScribeApp(story, settings=bundled_settings())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("alt+right", "ctrl+right")  # keep " and"
        await settle(app, pilot)
        assert app.editor.text == "Once and"
        assert pane_text(app) == " the sea was calm.", "the rest is offered"
        assert app.branches.tree.node(short_id).accepted and app.branches.tree.node(short_id).text == " and"
        await pilot.press("ctrl+down")  # the rest of the sentence
        await settle(app, pilot)
        assert app.editor.text == "Once" + SHORT and pane_text(app) == ""
        await pilot.press("ctrl+z")  # takes back the sentence only
        await settle(app, pilot)
        assert app.editor.text == "Once and" and pane_text(app) == " the sea was calm."
        await pilot.press("ctrl+z")
        await settle(app, pilot)
        assert app.editor.text == "Once" and pane_text(app) == SHORT.rstrip()


async def test_keep_up_to_the_token_under_the_inspector(tmp_path: Path) -> None:
    story, _, _ = story_with_two_branches(tmp_path)
    app = ScribeApp(story, settings=bundled_settings())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("alt+right", "f3", "left", "left", "k")  # cursor from " calm." back to " sea"
        await settle(app, pilot)
        assert app.editor.text == "Once and the sea"
        assert pane_text(app) == " was calm." and app.focused is app.editor


async def test_edit_the_continuation_then_keep_the_draft(tmp_path: Path) -> None:
    story, _, short_id = story_with_two_branches(tmp_path)
    app = ScribeApp(story, settings=bundled_settings())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("alt+right", "ctrl+e")
        await pilot.pause()
        assert app.focused is app.draft and not app.stream_view.display
        assert app.draft.text == SHORT
        await pilot.press(*["backspace"] * 5)  # " calm." loses "calm."
        await pilot.press(*"stormy!")
        await pilot.press("escape")  # back to the continuation; the edits wait for ctrl+e
        await pilot.pause()
        assert app.stream_view.display and pane_text(app) == SHORT.rstrip() and app.focused is app.editor
        await pilot.press("ctrl+e")
        await pilot.pause()
        assert app.draft.text == " and the sea was stormy!"
        await pilot.press("tab")
        await settle(app, pilot)
        assert app.editor.text == "Once and the sea was stormy!"
        assert pane_text(app) == "" and not app.draft.is_open and app.stream_view.display
        edited = [n for n in app.branches.tree if n.stop_reason == "edited"]
        assert len(edited) == 1 and edited[0].accepted and edited[0].text == " and the sea was stormy!"
        assert not app.branches.tree.node(short_id).accepted, "the generated branch stays as it was"
        await pilot.press("ctrl+z")
        await settle(app, pilot)
        assert app.editor.text == "Once" and not edited[0].accepted
