"""§7 Files scribe itself wrote: a journal entry, preset or settings file that is valid JSON/TOML of the wrong shape
is refused with a message naming it, the document still opens, and the damaged file is renamed aside (never
overwritten)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scribe.commands.tui import studio_settings
from scribe.config import Paths, Settings, save_settings
from scribe.sampling.params import SamplingParams
from scribe.studio.document import Document
from scribe.studio.journal import Journal
from scribe.studio.presets import load_presets, save_preset
from scribe.ui.app import ScribeApp
from scribe.ui.screens.dialogs import RecoverScreen

from .conftest import SIZE

ENTRY_SHAPES = [
    [],
    "just a string",
    {"key": 1, "path": None, "text": "x", "saved_at": 0, "disk_hash": None},
    {"version": 1, "path": None, "text": ["not", "text"], "saved_at": 0, "disk_hash": None},
    {"version": 1, "path": 5, "text": "x", "saved_at": "yesterday", "disk_hash": None},
]


@pytest.mark.parametrize("shape", ENTRY_SHAPES, ids=range(len(ENTRY_SHAPES)))
async def test_a_damaged_journal_entry_is_set_aside_and_the_document_opens(tmp_path: Path, settings: Settings,
                                                                         messages, shape) -> None:
    file = tmp_path / "story.txt"
    file.write_text("The text on disk.", encoding="utf-8")
    journal = Journal(Paths.discover().autosave)
    doc = Document.open(file)
    entry_file = journal.entry_file(doc.key)
    entry_file.parent.mkdir(parents=True)
    if isinstance(shape, dict) and "key" not in shape:
        shape = {**shape, "key": doc.key}
    entry_file.write_text(json.dumps(shape), encoding="utf-8")
    app = ScribeApp(file, settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.editor.text == "The text on disk." and not isinstance(app.screen, RecoverScreen)
        said = [m for m in messages(app) if str(entry_file) in m]
        assert said and "bad-1" in said[0], messages(app)
    aside = entry_file.with_name(entry_file.name + ".bad-1")
    assert json.loads(aside.read_text(encoding="utf-8")) == shape


async def test_a_damaged_untitled_entry_is_set_aside_too(tmp_path: Path, settings: Settings, messages) -> None:
    journal = Journal(Paths.discover().autosave)
    bad = journal.entry_file("untitled-abc")
    bad.parent.mkdir(parents=True)
    bad.write_text(json.dumps({"key": "untitled-abc", "path": None, "text": 42, "saved_at": 1, "disk_hash": None}),
                   encoding="utf-8")
    app = ScribeApp(None, settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not isinstance(app.screen, RecoverScreen)
        assert any(str(bad) in m for m in messages(app))
    assert bad.with_name(bad.name + ".bad-1").exists() and not bad.exists()


@pytest.mark.parametrize("toml", ['temperature = "hot"\n', "stop = 5\n", "[temperature]\nvalue = 1\n",
                                  "sampling = { top_p = 0.5 }\n"])
def test_a_damaged_preset_is_refused_and_set_aside(tmp_path: Path, toml: str) -> None:
    config = Paths.discover().config
    bad = config / "presets" / "noir.toml"
    bad.parent.mkdir(parents=True)
    bad.write_text(toml, encoding="utf-8")
    presets, errors = load_presets(config)
    assert "noir" not in presets and len(errors) == 1
    assert str(bad) in errors[0] and "noir.toml.bad-1" in errors[0]
    save_preset(config, "noir", SamplingParams(temperature=0.4))
    assert bad.with_name("noir.toml.bad-1").read_text(encoding="utf-8") == toml
    assert load_presets(config)[0]["noir"].values == {"temperature": 0.4}


@pytest.mark.parametrize("toml", ["sampling = 5\n", 'keys = "ctrl+s"\n', "alternatives = [1, 2]\n",
                                  "[model]\nname = 'x'\n", "autosave_seconds = -1\n"])
async def test_a_damaged_settings_file_is_set_aside_and_the_studio_opens(tmp_path: Path, toml: str,
                                                                        messages) -> None:
    paths = Paths.discover()
    paths.config.mkdir(parents=True)
    paths.config_file.write_text(toml, encoding="utf-8")
    settings, notice = studio_settings(paths, {})
    assert settings == Settings() and notice is not None
    aside = paths.config_file.with_name("config.toml.bad-1")
    assert str(paths.config_file) in notice and str(aside) in notice
    assert aside.read_text(encoding="utf-8") == toml and not paths.config_file.exists()
    save_settings(settings.replace(theme="nord"), paths)  # a later save does not touch the damaged copy
    assert aside.read_text(encoding="utf-8") == toml
    file = tmp_path / "doc.txt"
    file.write_text("opens anyway", encoding="utf-8")
    app = ScribeApp(file, settings=settings.replace(model="/nonexistent/m"))
    app.notify(notice, severity="error")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.editor.text == "opens anyway" and any(str(aside) in m for m in messages(app))
