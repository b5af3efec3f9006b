"""Presets: the built-ins, the writer's own TOML files, and what applying one keeps."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from scribe.sampling.params import SamplingParams
from scribe.studio.presets import BUILTIN, PresetError, load_presets, matching_preset, save_preset


def test_builtins_are_valid_and_applying_keeps_length_seed_and_stops(tmp_path: Path) -> None:
    presets, errors = load_presets(tmp_path)
    assert list(presets) == ["precise", "balanced", "creative", "wild"] == list(BUILTIN) and errors == []
    mine = SamplingParams(temperature=0.1, top_k=5, max_new_tokens=33, seed=4, stop=("\n\n",))
    wild = presets["wild"].apply(mine)
    assert wild.temperature == 1.4 and wild.top_k == 0, "what the preset leaves out is the default"
    assert (wild.max_new_tokens, wild.seed, wild.stop) == (33, 4, ("\n\n",))
    assert matching_preset(presets, wild) == "wild" and matching_preset(presets, mine) is None


def test_a_saved_preset_is_a_toml_file_that_loads_back(tmp_path: Path) -> None:
    params = SamplingParams(temperature=0.65, top_p=0.9, repetition_penalty=1.2, seed=9, max_new_tokens=50)
    preset = save_preset(tmp_path, "noir", params)
    assert preset.path == tmp_path / "presets" / "noir.toml"
    assert tomllib.loads(preset.path.read_text()) == {"temperature": 0.65, "top_p": 0.9, "repetition_penalty": 1.2}
    presets, _ = load_presets(tmp_path)
    assert presets["noir"].apply(SamplingParams(seed=9, max_new_tokens=50)) == params
    with pytest.raises(PresetError, match="preset name"):
        save_preset(tmp_path, "../escape", params)


def test_bad_preset_files_are_reported_and_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "presets"
    folder.mkdir()
    (folder / "hot.toml").write_text("temperature = 99\n")
    (folder / "typo.toml").write_text("temprature = 1\n")
    (folder / "ok.toml").write_text("top_k = 7\n")
    presets, errors = load_presets(tmp_path)
    assert "ok" in presets and "hot" not in presets and "typo" not in presets
    assert any("hot.toml" in e and "temperature" in e for e in errors) and any("typo.toml" in e for e in errors)
