"""The settings panel: every sampling field present, bad values refused without crashing, model changes reload."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from textual.widgets import Input

from scribe.config import Settings
from scribe.sampling.params import SamplingParams
from scribe.studio.layered_settings import value_of
from scribe.ui.app import ScribeApp
from scribe.ui.widgets.settings_panel import format_value

SIZE = (120, 40)


async def test_the_panel_has_a_row_for_every_sampling_field_and_toggles_with_f2(settings: Settings) -> None:
    app = ScribeApp(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        panel = app.settings_panel
        assert not panel.display
        await pilot.press("f2")
        assert panel.display and isinstance(app.focused, Input) and app.focused.id == "setting-model"
        for name in [f.name for f in dataclasses.fields(SamplingParams)] + ["model", "device", "dtype", "alternatives"]:
            assert panel.input_for(name).tooltip
        assert panel.input_for("temperature").value == "0.8"
        assert panel.input_for("seed").value == "7"
        await pilot.press("f2")
        assert not panel.display and app.focused is app.editor


async def test_bad_values_are_refused_and_snap_back_to_the_value_in_effect(settings: Settings, errors) -> None:
    app = ScribeApp(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        panel = app.settings_panel
        for name, bad, message in (("temperature", "abc", "not a number"), ("top_p", "2", "out of range"),
                                   ("max_new_tokens", "1.5", "not a whole number"), ("alternatives", "99", "out of range"),
                                   ("dtype", "int3", "not one of")):
            field = panel.input_for(name)
            field.focus()
            field.value = bad
            await pilot.press("enter")
            assert field.value == format_value(name, value_of(settings, name)), "a refused value snaps back"
            assert any(message in text for text in errors(app)), (name, errors(app))
        assert app.settings == settings
        assert app.model_state in ("loading", "ready")

        field = panel.input_for("temperature")
        field.focus()
        field.value = "0.3"
        await pilot.press("enter")
        assert app.settings.sampling.temperature == 0.3
        field = panel.input_for("stop")
        field.focus()
        field.value = "\\n\\n|THE END"
        await pilot.press("enter")
        assert app.settings.sampling.stop == ("\n\n", "THE END")


async def test_a_bad_model_shows_an_error_keeps_the_text_and_another_model_can_be_picked(
    settings: Settings, tmp_path: Path, tiny_model: Path, errors
) -> None:
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{ this is not json", encoding="utf-8")
    file = tmp_path / "chapter.txt"
    file.write_text("My precious words.", encoding="utf-8")
    app = ScribeApp(file, settings=settings.replace(model=str(tmp_path / "missing-model")))
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        status = app.status_bar.status
        assert app.model_state == "error" and "missing-model" in status.error
        assert any("missing-model" in text for text in errors(app))
        assert app.editor.text == "My precious words."

        await pilot.press("f2")
        model = app.settings_panel.input_for("model")
        model.value = str(broken)
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.model_state == "error" and app.backend is None
        assert any("broken-model" in text for text in errors(app))
        assert app.editor.text == "My precious words."

        model.value = str(tiny_model)
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.model_state == "ready" and app.status_bar.status.model == "tiny-random-gpt2"
        assert app.editor.text == "My precious words."
