"""The context tools' close key wins over the text fields: remapped to a key a field would take (ctrl+w deletes a word
in an Input and a TextArea), it still closes the screen from inside a field, and what was typed there is saved."""

from __future__ import annotations

from pathlib import Path

from writing_helpers import SIZE, settle

from scribe.config import Paths
from scribe.studio.context import context_path, load_context
from scribe.ui.app import ScribeApp
from scribe.ui.screens.context_tools import ContextToolsScreen


def whole_screen(app: ScribeApp) -> str:
    """Every line the app shows, through Textual's compositor."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def test_a_remapped_close_key_closes_from_a_text_field(tiny_model: Path, tmp_path: Path) -> None:
    paths = Paths.discover()
    paths.config.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text(f'model = "{tiny_model}"\ndevice = "cpu"\nautosave_seconds = 3600.0\n\n'
                                 '[keys]\ncontext_close = "ctrl+w"\n', encoding="utf-8")
    story = tmp_path / "story.txt"
    story.write_text("The harbour was quiet.", encoding="utf-8")
    app = ScribeApp(story)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert not [n for n in app._notifications if "[keys]" in n.message]
        await pilot.press("alt+c")
        await pilot.pause()
        assert isinstance(app.screen, ContextToolsScreen) and "Context tools of" in whole_screen(app)
        assert "ctrl+w closes" in whole_screen(app), "the hint names the remapped key"
        assert app.focused is not None and app.focused.id == "memory", "the memory's text area has the focus"
        await pilot.press(*"A sea story.", "ctrl+w")
        await settle(app, pilot)
        assert not isinstance(app.screen, ContextToolsScreen) and "Context tools of" not in whole_screen(app)
        assert load_context(context_path(story)).memory == "A sea story.", "ctrl+w closed; it deleted no word"

        await pilot.press("alt+c")
        await pilot.pause()
        tools = app.screen
        assert isinstance(tools, ContextToolsScreen)
        tools.query_one("#note").focus()
        await pilot.pause()
        await pilot.press(*"[Mood: dread]", "ctrl+w")
        await settle(app, pilot)
        assert not isinstance(app.screen, ContextToolsScreen) and "Context tools of" not in whole_screen(app)
        saved = load_context(context_path(story))
        assert (saved.memory, saved.note) == ("A sea story.", "[Mood: dread]")
