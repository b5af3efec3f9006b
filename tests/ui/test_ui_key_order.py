"""A studio key bound with priority (ctrl+j, tab, ...) typed right after other keys, in one burst as a terminal hands
fast typing over, acts on the text with those keys in it (the tiny real model, the real TUI)."""

from __future__ import annotations

from textual import events

from scribe.config import Settings
from scribe.ui.app import ScribeApp
from writing_helpers import finished, pane_text, rendered

SIZE = (110, 32)


def burst(app: ScribeApp, *keys: str) -> None:
    """Keys handed to the app at once, none waiting for the one before it to be handled."""
    for key in keys:
        app.post_message(events.Key("space" if key == " " else key, key if len(key) == 1 else None))


async def ready(app: ScribeApp, pilot) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert app.model_state == "ready", app.status_bar.status


def editor_shows(app: ScribeApp) -> str:
    return "\n".join(line.rstrip() for line in rendered(app, app.editor)).rstrip()


async def test_typing_then_ctrl_j_in_one_burst_continues_the_typed_text(settings: Settings) -> None:
    app = ScribeApp(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        burst(app, *"Hello", "ctrl+j")
        await pilot.pause()
        await finished(app, pilot)
        run = app.run_state
        assert run is not None and run.prompt.endswith("Hello"), run and run.prompt
        assert editor_shows(app) == "Hello" and app.editor.text == "Hello"
        assert app.editor.mark == len("Hello")  # the continuation goes after the typed keys
        continuation = app.stream_view.text
        assert continuation and pane_text(app).replace("\n", "") == continuation.replace("\n", "")


async def test_typing_then_tab_in_one_burst_accepts_after_the_typed_keys(settings: Settings) -> None:
    app = ScribeApp(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press(*"Once", "ctrl+j")
        await finished(app, pilot)
        continuation = app.stream_view.text
        assert continuation and app.editor.mark == len("Once")

        await pilot.press("ctrl+home")
        burst(app, *"Hi ", "tab")  # the writer adds "Hi " at the start, then accepts
        await pilot.pause()
        await finished(app, pilot)
        assert app.editor.text == "Hi Once" + continuation
        assert editor_shows(app).replace("\n", "") == ("Hi Once" + continuation).replace("\n", "")
        assert app.editor.cursor_location == app.editor.document.end  # after the accepted text
        assert app.stream_view.text == "" and app.run_state is None
        await pilot.press("ctrl+z")  # the accept is the last edit: undoing it leaves what was typed before it
        assert app.editor.text == "Hi Once"
