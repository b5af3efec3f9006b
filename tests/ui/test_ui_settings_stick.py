"""Settings that stick: a change in the panel is saved to the global settings file and to the document's own
settings file, both come back at the next start (the panel says from which scope), a refused value snaps back to the
value in effect, and the model's recommended sampling settings apply where the writer chose nothing."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from textual.widgets import Label
from writing_helpers import SIZE, bundled_settings, rendered, settle

from scribe.config import Paths, save_settings
from scribe.studio.layered_settings import settings_path
from scribe.ui.app import ScribeApp


def label(app: ScribeApp, name: str) -> str:
    return str(app.settings_panel.query_one(f"#label-{name}", Label).render())


async def type_setting(app: ScribeApp, pilot, name: str, text: str) -> None:
    field = app.settings_panel.input_for(name)
    field.focus()
    field.value = text
    await pilot.press("enter")
    await pilot.pause()


def start_settings(home: Path) -> None:
    """A global settings file that picks the bundled model on the CPU (as a writer's first choice would)."""
    base = bundled_settings()
    save_settings(base.replace(sampling=base.sampling.replace(seed=None, max_new_tokens=200)), Paths.discover())


async def test_panel_changes_are_saved_globally_and_with_the_document_and_restored(
        tmp_path: Path, scribe_home: Path, errors) -> None:
    start_settings(scribe_home)
    story = tmp_path / "story.txt"
    story.write_text("Once", encoding="utf-8")
    app = ScribeApp(story)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f2")
        await pilot.pause()
        await type_setting(app, pilot, "temperature", "0.5")
        await type_setting(app, pilot, "drafts", "4")
        await type_setting(app, pilot, "prose", "off")
        assert app.settings.sampling.temperature == 0.5 and app.settings.drafts == 4 and not app.settings.prose
        assert label(app, "temperature") == "temperature · document"

        await type_setting(app, pilot, "top_p", "2")  # refused: snaps back to the value in effect
        assert app.settings_panel.input_for("top_p").value == "0.95"
        assert any("top_p" in message and "\n" not in message for message in errors(app))

    on_file = tomllib.loads(Paths.discover().config_file.read_text(encoding="utf-8"))
    assert on_file["sampling"]["temperature"] == 0.5 and on_file["drafts"] == 4 and on_file["prose"] is False
    assert "top_k" not in on_file["sampling"] or on_file["sampling"]["top_k"] == 0, "the model's value is not saved"
    own = json.loads(settings_path(story).read_text(encoding="utf-8"))["settings"]
    assert own == {"temperature": 0.5, "drafts": 4, "prose": False}

    # the global file now says 0.3; the document keeps its own 0.5
    start = tomllib.loads(Paths.discover().config_file.read_text(encoding="utf-8"))
    start["sampling"]["temperature"] = 0.3
    import tomli_w
    Paths.discover().config_file.write_text(tomli_w.dumps(start), encoding="utf-8")

    again = ScribeApp(story)
    async with again.run_test(size=SIZE) as pilot:
        await settle(again, pilot)
        await pilot.press("f2")
        await pilot.pause()
        await pilot.pause()
        field = again.settings_panel.input_for("temperature")
        assert "0.5" in "".join(rendered(again, field)) and label(again, "temperature") == "temperature · document"
        assert again.settings.drafts == 4 and label(again, "drafts") == "drafts · document"
        assert again.settings_panel.input_for("prose").value == "off"
        assert label(again, "top_k") == "top k · model" and again.settings_panel.input_for("top_k").value == "40"

    other = ScribeApp(tmp_path / "new.txt")
    async with other.run_test(size=SIZE) as pilot:
        await settle(other, pilot)
        await pilot.press("f2")
        await pilot.pause()
        assert other.settings.sampling.temperature == 0.3 and label(other, "temperature") == "temperature · global"


async def test_the_models_recommended_sampling_applies_where_the_writer_chose_nothing(
        tmp_path: Path, scribe_home: Path) -> None:
    start_settings(scribe_home)
    app = ScribeApp()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        sampling = app.settings.sampling
        assert (sampling.temperature, sampling.top_k, sampling.top_p, sampling.repetition_penalty) == (0.8, 40, 0.95, 1.1)
        await pilot.press("f2")
        await pilot.pause()
        assert label(app, "repetition_penalty") == "repetition penalty · model"
        assert app.settings_panel.input_for("repetition_penalty").value == "1.1"
        await type_setting(app, pilot, "top_k", "0")  # the writer's choice wins, even the built-in default
        assert app.settings.sampling.top_k == 0 and label(app, "top_k") == "top k · global"
    again = ScribeApp()
    async with again.run_test(size=SIZE) as pilot:
        await settle(again, pilot)
        assert again.settings.sampling.top_k == 0, "a chosen built-in default is still the writer's choice"
        assert again.settings.sampling.top_p == 0.95
