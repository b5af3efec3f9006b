"""Settings file, environment overrides and platform paths."""

from pathlib import Path

import pytest

from scribe.config import ConfigError, Paths, Settings, hf_cache_dir, load_settings, save_settings
from scribe.sampling.params import SamplingParams


def test_scribe_home_puts_every_directory_under_it(monkeypatch, tmp_path):
    monkeypatch.setenv("SCRIBE_HOME", str(tmp_path))
    paths = Paths.discover()
    for directory in (paths.config, paths.data, paths.cache, paths.log):
        assert directory.is_relative_to(tmp_path)
    assert paths.config_file.name == "config.toml"


def test_platform_directories_follow_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("SCRIBE_HOME", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    paths = Paths.discover()
    assert paths.config == tmp_path / "cfg" / "scribe"
    assert paths.data == tmp_path / "share" / "scribe"


def test_hf_cache_honours_hf_home(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    assert hf_cache_dir() == tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "elsewhere"))
    assert hf_cache_dir() == tmp_path / "elsewhere"


def test_settings_round_trip_through_the_toml_file(tmp_path):
    paths = Paths(config=tmp_path / "c", data=tmp_path / "d", cache=tmp_path / "k", log=tmp_path / "l")
    settings = Settings(model="my-model", sampling=SamplingParams(temperature=0.3, top_k=7, seed=11, stop=("\n\n",)))
    save_settings(settings, paths)
    assert load_settings(paths, environ={}) == settings


def test_environment_overrides_the_file(tmp_path):
    paths = Paths(config=tmp_path / "c", data=tmp_path / "d", cache=tmp_path / "k", log=tmp_path / "l")
    save_settings(Settings(model="from-file"), paths)
    assert load_settings(paths, environ={"SCRIBE_MODEL": "from-env"}).model == "from-env"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour = 'red'\n", "unknown setting"),
        ("[sampling]\ntemperature = -1\n", "temperature"),
        ("alternatives = 'five'\n", "alternatives: .five. is not a whole number"),
        ("model = [\n", "cannot read settings"),
    ],
)
def test_bad_settings_file_names_the_problem(tmp_path, text, message):
    paths = Paths(config=tmp_path, data=tmp_path, cache=tmp_path, log=tmp_path)
    Path(paths.config_file).write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(paths, environ={})
