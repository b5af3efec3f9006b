"""Keras models scribe trained appear in the model list with what their folder says, checked without Keras."""

from __future__ import annotations

import shutil

from scribe.config import Paths
from scribe.store.catalog import list_models


def test_trained_keras_models_are_listed_and_a_damaged_one_is_incomplete(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("SCRIBE_HOME", str(tmp_path / "home"))
    models = Paths.discover().models
    for arch, folder in trained.items():
        shutil.copytree(folder, models / arch)
    (models / next(iter(trained)) / "vocab.json").unlink()

    entries = {e.name: e for e in list_models(offered=False) if e.source == "scribe"}
    broken, *good = list(trained)
    assert set(entries) == set(trained)
    assert not entries[broken].usable and entries[broken].status.startswith("incomplete:")
    for arch in good:
        entry = entries[arch]
        assert (entry.kind, entry.usable, entry.status) == ("keras", True, "ready")
        assert entry.parameters and entry.parameters > 0
        assert entry.tokenizer.endswith("tokens") and arch in entry.description
