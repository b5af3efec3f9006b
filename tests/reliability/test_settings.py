"""§6 Settings and keys: every setting is checked for type and range wherever it comes from (settings file,
environment, command line, settings panel) with the same message; key bindings that put two actions on one key or
name a key Textual cannot parse are refused with a message, and the defaults serve those actions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scribe.config import ConfigError, Paths, Settings, load_settings
from scribe.sampling.params import InvalidSetting
from scribe.ui.app import ScribeApp
from scribe.ui.widgets.settings_panel import updated_settings

from .conftest import SIZE

REPO = Path(__file__).resolve().parents[2]
BAD = [  # (setting, TOML value, typed text, what the message says)
    ("alternatives", "-1", "-1", "between 0 and"),
    ("alternatives", "1000000", "1000000", "between 0 and"),
    ("autosave_seconds", "0", None, "between"),
    ("autosave_seconds", "-5.0", None, "between"),
    ("autosave_seconds", '"fast"', None, "must be a number"),
    ("autosave_seconds", "1e9", None, "between"),
    ("dtype", '"int4"', "int4", "is not one of"),
    ("device", '"gpu9"', "gpu9", "auto, cpu, cuda, cuda:N or mps"),
    ("device", '"cuda:-1"', "cuda:-1", "auto, cpu, cuda, cuda:N or mps"),
    ("model", '""', "", "cannot be empty"),
    ("theme", '""', None, "cannot be empty"),
    ("trust_remote_code", '"yes"', None, "must be true or false"),
]


def _paths(tmp_path: Path) -> Paths:
    return Paths(config=tmp_path / "config", data=tmp_path / "data", cache=tmp_path / "cache", log=tmp_path / "log")


def _message(exc: Exception) -> str:
    """The message without the source it names (a file, the environment)."""
    return str(exc).split(": ", 1)[1] if str(exc).startswith(("/", "environment")) else str(exc)


@pytest.mark.parametrize(("name", "toml", "typed", "says"), BAD)
def test_a_bad_value_is_refused_with_the_same_message_from_every_source(tmp_path: Path, name: str, toml: str,
                                                                        typed: str | None, says: str) -> None:
    paths = _paths(tmp_path)
    paths.config.mkdir(parents=True)
    paths.config_file.write_text(f"{name} = {toml}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as from_file:
        load_settings(paths, environ={})
    assert str(paths.config_file) in str(from_file.value) and name in str(from_file.value)
    assert says in str(from_file.value)
    messages = {_message(from_file.value)}
    value = __import__("tomllib").loads(f"v = {toml}")["v"]
    with pytest.raises(InvalidSetting) as from_code:  # the command line and the panel build Settings the same way
        Settings().replace(**{name: value})
    messages.add(_message(from_code.value))
    if typed is not None:
        with pytest.raises(InvalidSetting) as from_panel:
            updated_settings(Settings(), name, typed)
        messages.add(_message(from_panel.value))
    env = {"model": "SCRIBE_MODEL", "device": "SCRIBE_DEVICE", "dtype": "SCRIBE_DTYPE"}.get(name)
    if env and isinstance(value, str):
        paths.config_file.unlink()
        with pytest.raises(ConfigError) as from_env:
            load_settings(paths, environ={env: value} if value else {env: " "})
        assert env in str(from_env.value)
        messages.add(_message(from_env.value))
    assert len(messages) == 1, messages


@pytest.mark.parametrize("text", ["0", "1", "20"])
def test_good_values_still_pass(text: str) -> None:
    assert updated_settings(Settings(), "alternatives", text).alternatives == int(text)
    assert Settings(autosave_seconds=0.5, device="cuda:1", dtype="int8").device == "cuda:1"


def test_the_command_line_refuses_a_bad_setting_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "SCRIBE_HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-m", "scribe", "generate", "--prompt", "x", "--dtype", "int4",
                             "--model", "/nonexistent/m"], capture_output=True, text=True, check=False, env=env, timeout=60,
                            cwd=REPO)
    assert result.returncode == 1 and "dtype: 'int4' is not one of" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


async def test_two_actions_on_one_key_are_refused_naming_both(tmp_path: Path, settings: Settings, messages) -> None:
    app = ScribeApp(tmp_path / "doc.txt", settings=settings.replace(keys={"continue": "ctrl+s", "tree": "alt+z"}))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        said = [m for m in messages(app) if "[keys]" in m]
        assert len(said) == 1 and "continue" in said[0] and "save" in said[0] and "ctrl+s" in said[0], said
        keymap = app._keymap
        assert "continue" not in keymap and keymap.get("tree") == "alt+z"
        await pilot.press(*"words")
        await pilot.press("ctrl+s")  # still saves (the SaveAs dialog for an untitled file would open otherwise)
        await pilot.pause()
    assert (tmp_path / "doc.txt").read_text(encoding="utf-8") == "words"


@pytest.mark.parametrize("keys", ["ctrl+banan", "hyper-ctrl+x", "ctrl+", "f99", "ctrl+s,,"])
async def test_a_key_name_textual_cannot_parse_is_refused(tmp_path: Path, settings: Settings, messages,
                                                          keys: str) -> None:
    app = ScribeApp(tmp_path / "doc.txt", settings=settings.replace(keys={"tree": keys}))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        said = [m for m in messages(app) if "[keys]" in m]
        assert len(said) == 1 and "tree" in said[0] and repr(keys) in said[0], said
        assert "tree" not in app._keymap


async def test_the_default_keys_have_no_conflicts(tmp_path: Path, settings: Settings, messages) -> None:
    app = ScribeApp(tmp_path / "doc.txt", settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not [m for m in messages(app) if "[keys]" in m]
