"""Resolving model names: folders, scribe's models, the Hugging Face cache (real layout), and unknown names."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scribe.config import Paths
from scribe.engine.base import ModelNotFound
from scribe.engine.registry import ModelRef, load_model, resolve_model
from scribe.sampling.params import SamplingParams


def test_importing_the_registry_imports_no_heavy_library() -> None:
    code = (
        "import sys, scribe.engine.registry; "
        "print(','.join(m for m in ('torch', 'transformers', 'huggingface_hub', 'tensorflow') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_a_folder_path_resolves_to_itself(tiny_model_dir: Path) -> None:
    ref = resolve_model(str(tiny_model_dir))
    assert ref == ModelRef(name="tiny-random-gpt2", kind="transformers", path=tiny_model_dir)


def test_a_folder_of_keras_files_is_a_keras_model(tmp_path: Path) -> None:
    (tmp_path / "model.keras").write_bytes(b"")
    assert resolve_model(str(tmp_path)).kind == "keras"


def test_a_scribe_trained_model_resolves_by_name(tiny_model_dir: Path) -> None:
    target = Paths.discover().models / "my-novel-model"
    shutil.copytree(tiny_model_dir, target)
    ref = resolve_model("my-novel-model")
    assert ref == ModelRef(name="my-novel-model", kind="transformers", path=target)


def _cache_repo(cache: Path, repo_id: str, source: Path) -> Path:
    """Lay out `source` the way huggingface_hub caches a download: blobs, a snapshot of symlinks, refs/main."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for file in source.iterdir():
        data = file.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        os.symlink(os.path.relpath(blob, snapshot), snapshot / file.name)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return snapshot


def test_a_repo_in_the_hugging_face_cache_resolves_and_loads_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path
) -> None:
    cache = tmp_path / "hub"
    snapshot = _cache_repo(cache, "someone/tiny-gpt2", tiny_model_dir)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_model("someone/tiny-gpt2") == ModelRef(name="someone/tiny-gpt2", kind="transformers", path=snapshot)
    backend = load_model("someone/tiny-gpt2", device="cpu")
    assert backend.info.name == "someone/tiny-gpt2"
    events = list(backend.stream("Hi", SamplingParams(max_new_tokens=3, seed=1)))
    assert events[-1].reason in ("max_tokens", "eos") and events[-1].error is None


@pytest.mark.parametrize("name", ["no-such-model", "nobody/no-such-repo", "../no-such-folder", ""])
def test_an_unknown_name_says_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    with pytest.raises(ModelNotFound) as caught:
        load_model(name)
    message = str(caught.value)
    assert repr(name) in message
    assert str(Paths.discover().models) in message
    assert str(tmp_path / "empty-hub") in message
    assert "bundled" in message
