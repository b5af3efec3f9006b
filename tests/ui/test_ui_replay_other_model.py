"""Replaying a branch made with another model offers to load that model, and then replays it exactly."""

from __future__ import annotations

from pathlib import Path

from writing_helpers import (
    BUNDLED,
    SIZE,
    bundled_settings,
    finished,
    settle,
    tiny_model,
)

from scribe.ui.app import ScribeApp
from scribe.ui.screens.dialogs import ConfirmScreen


async def loaded(app: ScribeApp, pilot) -> None:
    while app.model_state != "ready":
        await pilot.pause(0.05)
    await settle(app, pilot)


async def test_replay_offers_to_load_the_branchs_model(tmp_path: Path) -> None:
    tiny = tiny_model(tmp_path / "tiny-gpt2")
    story = tmp_path / "story.txt"
    story.write_text("The ship came", encoding="utf-8")
    app = ScribeApp(story, settings=bundled_settings(max_new_tokens=5).replace(model=str(tiny)))
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app, pilot)
        await pilot.press("ctrl+j")
        await finished(app, pilot)
        made = app.branches.current
        assert made is not None and made.generation.source == str(tiny)

        app.apply_setting("model", str(BUNDLED))
        await loaded(app, pilot)
        assert app.backend.info.name == "scribe-gutenberg"
        await pilot.press("alt+r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and "tiny-gpt2" in app.screen.question
        await pilot.press("y")
        await loaded(app, pilot)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.settings.model == str(tiny) and app.backend.info.name == "tiny-gpt2"
        assert app.last_replay is not None and app.last_replay[0] == app.last_replay[1] == made.generated
