"""Continuing, streaming, stopping, accepting, rejecting and regenerating with the tiny real model."""

from __future__ import annotations

import re
from pathlib import Path


from scribe.config import Settings
from scribe.engine.base import TokenStep
from scribe.ui.app import ScribeApp
from scribe.ui.widgets.stream_text import StreamText

SIZE = (110, 32)


async def ready(app: ScribeApp, pilot) -> None:
    """Wait for the model to load."""
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert app.model_state == "ready", app.status_bar.status


async def finished(app: ScribeApp, pilot) -> None:
    """Wait for the stream to end and the last frame to be drawn."""
    await app.workers.wait_for_complete()
    while app.generating:
        await pilot.pause(0.05)


async def some_tokens(app: ScribeApp, pilot, count: int = 2) -> None:
    for _ in range(400):
        if len(app.stream_view.steps) >= count:
            return
        await pilot.pause(0.05)
    raise AssertionError("no tokens streamed")


async def test_typing_goes_into_the_editor(settings: Settings) -> None:
    app = ScribeApp(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"It was", "enter", *"dark.")
        assert app.editor.text == "It was\ndark."
        await pilot.pause(0.5)
        assert app.status_bar.status.modified


async def test_continue_streams_coloured_tokens_and_accept_is_one_undo_step(settings: Settings) -> None:
    app = ScribeApp(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        app.editor.load_text("Once upon a time there was")
        app.editor.move_cursor((0, len("Once upon a time")))
        await pilot.press("ctrl+enter")
        assert app.run_state is not None and app.editor.mark == len("Once upon a time")
        await finished(app, pilot)

        view = app.stream_view
        assert view.end is not None and view.end.reason == "max_tokens" and view.end.tokens == 8
        assert len(view.steps) == 8 and all(isinstance(step, TokenStep) for step in view.steps)
        continuation = view.text
        assert continuation and continuation == "".join(step.text for step in view.steps)
        shown = view.query_one("#stream-text", StreamText).content
        assert shown.plain == continuation
        assert {span.style for span in shown.spans} <= {"green", "chartreuse3", "yellow", "dark_orange", "red"}
        assert app.model_state == "ready" and app.status_bar.status.tokens_per_s is not None

        await pilot.press("tab")
        assert app.editor.text == "Once upon a time" + continuation + " there was"
        assert app.editor.cursor_location == (0, len("Once upon a time" + continuation))
        await pilot.pause(0.6)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.backend is not None
        assert app.status_bar.status.context_tokens == app.backend.count_tokens("Once upon a time" + continuation)
        assert view.text == "" and app.run_state is None
        await pilot.press("ctrl+z")
        assert app.editor.text == "Once upon a time there was"
        await pilot.press("ctrl+y")
        assert app.editor.text == "Once upon a time" + continuation + " there was"


async def test_ctrl_j_and_alt_enter_continue_instead_of_inserting_a_newline(settings: Settings) -> None:
    app = ScribeApp(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press(*"Hello")
        for key in ("ctrl+j", "alt+enter"):
            await pilot.press(key)
            assert app.run_state is not None, key
            await finished(app, pilot)
            assert app.editor.text == "Hello" and app.stream_view.text
            await pilot.press("ctrl+r")


async def test_escape_stops_the_stream_and_keeps_what_streamed(settings: Settings, long_context_model: Path) -> None:
    # a 16k context: the tiny test model fills 1,024 positions in under 2 s, before a loaded machine delivers escape
    settings = settings.replace(model=str(long_context_model), sampling=settings.sampling.replace(max_new_tokens=16_000))
    app = ScribeApp(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press(*"The night")
        await pilot.press("ctrl+enter")
        await some_tokens(app, pilot)
        await pilot.press("escape")
        await finished(app, pilot)
        end = app.stream_view.end
        assert end is not None and end.reason == "cancelled" and end.tokens < 16_000
        assert app.model_state == "ready" and app.stream_view.text
        await pilot.press("escape")
        assert app.stream_view.text and app.run_state is not None, "escape after the end must not drop the text"
        await pilot.press("ctrl+r")
        assert app.stream_view.text == "" and app.run_state is None and app.editor.mark is None
        assert app.editor.text == "The night"


async def test_reject_clears_the_continuation_and_leaves_the_text(settings: Settings) -> None:
    app = ScribeApp(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press(*"Rain fell")
        await pilot.press("ctrl+enter")
        await finished(app, pilot)
        assert app.stream_view.text
        await pilot.press("ctrl+r")
        assert app.stream_view.text == "" and app.stream_view.steps == []
        assert app.editor.text == "Rain fell"
        await pilot.press("tab")
        assert app.editor.text == "Rain fell"


async def test_regenerate_gives_the_next_seeds_continuation_of_the_same_prompt(settings: Settings) -> None:
    app = ScribeApp(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press(*"The ship")
        await pilot.press("ctrl+enter")
        await finished(app, pilot)
        first = app.stream_view.text
        await pilot.press("ctrl+g")
        await finished(app, pilot)
        second = app.stream_view.text
        assert second and second != first
        assert "seed 8" in app.stream_view.border_title

        await pilot.press("ctrl+r")
        app.apply_setting("seed", "8")
        await pilot.press("ctrl+enter")
        await finished(app, pilot)
        assert app.stream_view.text == second, "regenerating with a fixed seed uses seed + 1"


async def test_typing_while_generating_works_and_accept_goes_where_generation_started(
    settings: Settings, long_context_model: Path
) -> None:
    settings = settings.replace(model=str(long_context_model), sampling=settings.sampling.replace(max_new_tokens=16_000))
    app = ScribeApp(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press(*"abc")
        await pilot.press("ctrl+enter")
        await some_tokens(app, pilot)
        app.editor.move_cursor((0, 0))
        await pilot.press(*"XY")
        assert app.generating and app.editor.text == "XYabc"
        await pilot.press("escape")
        await finished(app, pilot)
        continuation = app.stream_view.text
        await pilot.press("tab")
        assert app.editor.text == as_stored("XYabc" + continuation)


def as_stored(text: str) -> str:
    """`text` as the editor keeps it: a text area ends each line with its newline, so every line boundary Python knows
    (a bare carriage return, which the random model above sometimes streams, included) becomes one."""
    return re.sub(r"\r\n|[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]", "\n", text)


async def test_keys_are_remapped_by_binding_id(settings: Settings) -> None:
    app = ScribeApp(settings=settings.replace(keys={"continue": "alt+y"}))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press(*"Hi")
        await pilot.press("alt+y")
        assert app.run_state is not None
        await finished(app, pilot)
        assert app.stream_view.text


async def test_continue_without_a_model_warns_and_keeps_the_text(settings: Settings, tmp_path: Path) -> None:
    app = ScribeApp(settings=settings.replace(model=str(tmp_path / "no-such-model")))
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press(*"Words")
        await pilot.press("ctrl+enter")
        assert not app.generating and app.editor.text == "Words"
        assert any("no model loaded" in n.message for n in app._notifications)


async def test_the_command_palette_lists_the_actions_with_their_keys(settings: Settings) -> None:
    app = ScribeApp(settings=settings.replace(keys={"accept": "ctrl+t"}))
    async with app.run_test(size=SIZE):
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Continue (ctrl+enter,ctrl+j,alt+enter)" in titles
        assert "Accept (ctrl+t)" in titles
        assert {"Stop (escape)", "Reject (ctrl+r)", "Regenerate (ctrl+g)", "Save (ctrl+s)", "Settings (f2,ctrl+o)"} <= set(titles)
