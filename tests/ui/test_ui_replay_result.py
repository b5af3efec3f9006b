"""A replay's result is readable on a 48-row terminal: the whole ✓/✗ message is on screen, with where the texts part."""

from __future__ import annotations

from pathlib import Path

from writing_helpers import BUNDLED, bundled_settings, finished, settle, squeezed, tiny_model, toasts_on_screen

from scribe.ui.app import ScribeApp
from scribe.ui.branching import replay_difference
from scribe.ui.screens.dialogs import ConfirmScreen

SIZE = (120, 48)


async def replay_result(app: ScribeApp, pilot) -> list[str]:
    """The toasts on screen once the replay's result is up."""
    await app.workers.wait_for_complete()
    for _ in range(100):
        shown = toasts_on_screen(app)
        if any("Replay" in text for text in shown):
            return shown
        await pilot.pause(0.05)
    return toasts_on_screen(app)


async def loaded(app: ScribeApp, pilot) -> None:
    while app.model_state != "ready":
        await pilot.pause(0.05)
    await settle(app, pilot)


async def test_a_differing_replay_shows_where_and_both_texts_whole(tmp_path: Path) -> None:
    tiny = tiny_model(tmp_path / "tiny-gpt2")
    story = tmp_path / "story.txt"
    story.write_text("The ship came", encoding="utf-8")
    app = ScribeApp(story, settings=bundled_settings(max_new_tokens=40).replace(model=str(tiny)))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(app, pilot)
        await pilot.press("ctrl+j")
        await finished(app, pilot)
        made = app.branches.current
        assert made is not None and len(made.generated) > 60, "long enough that the result quotes an excerpt"

        app.apply_setting("model", str(BUNDLED))
        await loaded(app, pilot)
        await pilot.press("alt+r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # replay with the model loaded: the text differs
        shown = await replay_result(app, pilot)
        assert app.last_replay is not None
        replayed, recorded = app.last_replay
        assert replayed != recorded
        message = replay_difference(replayed, recorded)
        assert len(shown) == 1, f"only the result is up: {shown}"
        assert "Replay ✗" in shown[0].splitlines()[0]
        assert squeezed(message) in squeezed(shown[0]), (message, shown[0])
        assert "recorded: " in shown[0] and "replayed: " in shown[0]
        assert shown[0].count("\n") < 12, "a few lines, not the whole continuation"


async def test_a_faithful_replay_says_so_in_full(tmp_path: Path) -> None:
    story = tmp_path / "story.txt"
    story.write_text("The lighthouse keeper", encoding="utf-8")
    app = ScribeApp(story, settings=bundled_settings(max_new_tokens=12))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(app, pilot)
        await pilot.press("ctrl+j")
        await finished(app, pilot)
        made = app.branches.current
        assert made is not None
        await pilot.press("alt+r")
        shown = await replay_result(app, pilot)
        assert len(shown) == 1 and "Replay ✓" in shown[0], shown
        expected = f"the same text, token for token ({len(made.generated)} characters)"
        assert squeezed(expected) in squeezed(shown[0])


def test_the_difference_names_the_place_and_quotes_both_texts_shortly() -> None:
    message = replay_difference("abcXYZ" + "y" * 100, "abcdef")
    lines = message.split("\n")
    assert lines[0] == "the text differs from character 3 of 6"
    assert lines[1] == "recorded: 'def'"
    assert lines[2] == "replayed: '" + ("XYZ" + "y" * 100)[:60] + "…'"
    assert replay_difference("ab", "abc").split("\n")[2] == "replayed: (ends here)"
