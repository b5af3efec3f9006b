"""A model that fails to load says why in the status bar's first words, where an 80-column terminal shows them
(after the toast is gone), not after the model, the counts and the document's path."""

from __future__ import annotations

from dataclasses import replace

from writing_helpers import bundled_settings, rendered, settle

from scribe.ui.app import ScribeApp


async def test_the_load_error_is_on_screen_in_an_80_column_terminal(tmp_path) -> None:
    story = tmp_path / "a-story-with-a-rather-long-name-in-a-folder-of-its-own.txt"
    story.write_text("The rain had not stopped.", encoding="utf-8")
    missing = tmp_path / "no-such-model"
    app = ScribeApp(story, settings=replace(bundled_settings(), model=str(missing)))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        status = app.status_bar.status
        assert status.state == "error" and status.error
        line = "".join(rendered(app, app.status_bar))
        assert status.error[:30] in line, f"{status.error!r} is not on screen: {line!r}"
