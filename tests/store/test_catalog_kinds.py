"""One place decides a model's kind: the model list (and the bundled-model names) ask each backend's `detect` through
the registry, so the list's kind of a Keras folder, a GGUF file, a Hugging Face folder and the bundled model is the
registry's, and a third-party backend's claim shows in the list too."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from scribe.config import Paths, Settings, save_settings
from scribe import backend_plugins
from scribe.store.bundled import bundled_model_names, bundled_models_dir
from scribe.store.catalog import list_models

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from tiny_models import save_tiny_llama, write_gguf  # noqa: E402

PLUGIN_MODULE = '''
from scribe.engine.base import Backend


class FolderBackend(Backend):
    """Claims any folder holding a `weights.fold` file."""

    @classmethod
    def detect(cls, path):
        return path.is_dir() and (path / "weights.fold").is_file()
'''


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen2 as a Hugging Face folder."""
    return save_tiny_llama(tmp_path_factory.mktemp("qwen2"), "qwen2", layers=1, hidden=32, context=256)


@pytest.fixture(scope="module")
def gguf_file(hf_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same model as a real GGUF file."""
    return write_gguf(hf_folder, tmp_path_factory.mktemp("gguf") / "tiny-qwen2-F32.gguf")


@pytest.fixture
def models(hf_folder: Path, gguf_file: Path, tmp_path: Path) -> Path:
    """scribe's models folder with a Hugging Face folder, a Keras folder, a GGUF file, a folder of GGUF files and a
    folder no backend claims; no `gguf_folders`."""
    root = Paths.discover().models
    shutil.copytree(hf_folder, root / "hf")
    (root / "keras").mkdir(parents=True)
    (root / "keras" / "model.keras").write_bytes(b"")
    shutil.copy(gguf_file, root / "single.gguf")
    (root / "quantised").mkdir()
    shutil.copy(gguf_file, root / "quantised" / "tiny-Q8_0.gguf")
    (root / "notes").mkdir()
    (root / "notes" / "README.md").write_text("not a model", encoding="utf-8")
    save_settings(Settings(gguf_folders=[]))
    return root


def test_the_lists_kind_of_every_local_model_is_the_registrys(models: Path) -> None:
    entries = [entry for entry in list_models(offered=False) if entry.source in ("bundled", "scribe")]
    kinds = {Path(entry.location): entry.kind for entry in entries}
    assert kinds == {path: backend_plugins.detect_kind(path) for path in kinds}
    assert kinds[models / "hf"] == "transformers"
    assert kinds[models / "keras"] == "keras"
    assert kinds[models / "single.gguf"] == kinds[models / "quantised" / "tiny-Q8_0.gguf"] == "gguf"
    bundled = bundled_models_dir() / "scribe-gutenberg"
    assert kinds[bundled] == backend_plugins.detect_kind(bundled) == "transformers"
    assert models / "notes" not in kinds and backend_plugins.detect_kind(models / "notes") is None
    assert models / "quantised" not in kinds, "a folder of GGUF files is listed by its files"


def test_the_bundled_names_are_the_folders_a_backend_claims() -> None:
    root = bundled_models_dir()
    claimed = sorted(p.name for p in root.iterdir() if p.is_dir() and backend_plugins.detect_kind(p) is not None)
    assert bundled_model_names() == claimed and "scribe-gutenberg" in claimed


def test_a_third_party_backends_folder_is_listed_with_its_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = Paths.discover().models / "folded"
    folder.mkdir(parents=True)
    (folder / "weights.fold").write_bytes(b"\0")
    save_settings(Settings(gguf_folders=[]))
    backend_plugins.reload_backends()
    assert not [e for e in list_models(offered=False) if e.location == str(folder)], "no backend claims it yet"
    site = tmp_path / "site"
    (site / "fold_backend-1.0.dist-info").mkdir(parents=True)
    (site / "fold_backend.py").write_text(PLUGIN_MODULE)
    (site / "fold_backend-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: fold-backend\nVersion: 1.0\n")
    (site / "fold_backend-1.0.dist-info" / "entry_points.txt").write_text("[scribe.backends]\nfold = fold_backend:FolderBackend\n")
    monkeypatch.syspath_prepend(str(site))
    backend_plugins.reload_backends()
    try:
        [entry] = [e for e in list_models(offered=False) if e.location == str(folder)]
    finally:
        backend_plugins.reload_backends()
    assert (entry.kind, entry.source, entry.usable) == ("fold", "scribe", True)
