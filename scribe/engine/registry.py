"""Find a model by name or path and load it with the backend for its kind.

Resolution order: an existing folder, a bundled model, a model scribe trained (`Paths.models`), then a repository
already in the Hugging Face cache. Nothing is downloaded here. Backend modules are imported only when a model of their
kind loads (`BACKENDS`), so importing this module imports neither torch nor huggingface_hub.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from scribe.config import Paths, hf_cache_dir
from scribe.engine.base import Backend, ModelLoadError, ModelNotFound
from scribe.store.bundled import bundled_model_names, bundled_models_dir
from scribe.store.known import known_model
from scribe.store.remotes import REMOTE_PREFIX, get_remote, remotes_file

BACKENDS: dict[str, str] = {
    "transformers": "scribe.engine.transformers_backend:TransformersBackend",
    "keras": "scribe.engine.keras_backend:KerasBackend",
    "remote": "scribe.engine.remote_backend:RemoteBackend",
}
"""Model kind -> "module:class" of its backend; the class has a `load(path, *, name, device, dtype,
trust_remote_code)` classmethod."""


@dataclass(frozen=True)
class ModelRef:
    """A resolved model: the name to show, the backend kind that loads it, and its folder."""

    name: str
    kind: str
    path: Path


def model_kind(folder: Path) -> str:
    """The backend kind for a model folder: "keras" when it holds a .keras file, else "transformers"."""
    if not (folder / "config.json").exists() and any(folder.glob("*.keras")):
        return "keras"
    return "transformers"


def resolve_model(name_or_path: str) -> ModelRef:
    """Find the model called `name_or_path`, or raise ModelNotFound saying where it looked."""
    if name_or_path.startswith(REMOTE_PREFIX):
        get_remote(name_or_path)  # ModelNotFound naming remotes.toml when it is not configured
        return ModelRef(name=name_or_path, kind="remote", path=remotes_file())
    folder = Path(name_or_path).expanduser()
    if name_or_path.strip() and folder.is_dir():
        folder = folder.resolve()
        return ModelRef(name=folder.name, kind=model_kind(folder), path=folder)
    if _plain_name(name_or_path):
        for root in (bundled_models_dir(), Paths.discover().models):
            candidate = root / name_or_path
            if candidate.is_dir():
                return ModelRef(name=name_or_path, kind=model_kind(candidate), path=candidate)
    known = known_model(name_or_path)
    snapshot = _hf_cached_snapshot(known.repo_id if known else name_or_path)
    if snapshot is not None:
        return ModelRef(name=name_or_path, kind=model_kind(snapshot), path=snapshot)
    bundled = ", ".join(bundled_model_names()) or "none"
    raise ModelNotFound(
        f"no model {name_or_path!r}: not a folder ({folder.absolute()}), not a bundled model in {bundled_models_dir()} "
        f"(bundled: {bundled}), not a scribe model in {Paths.discover().models}, "
        f"and not a repository in the Hugging Face cache {hf_cache_dir()}"
    )


def _plain_name(name: str) -> bool:
    """True for a name that can only mean a folder directly inside a models directory."""
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name


def _hf_cached_snapshot(repo_id: str) -> Path | None:
    """The cached snapshot folder of a Hugging Face repository, without touching the network."""
    repo_id, _, revision = repo_id.partition("@")
    if repo_id.count("/") > 1 or not repo_id.strip("/"):
        return None
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    from scribe.store.catalog import folder_status

    try:
        snapshot = Path(snapshot_download(repo_id, revision=revision or None, cache_dir=hf_cache_dir(),
                                          local_files_only=True))
    except (HFValidationError, LocalEntryNotFoundError, OSError, ValueError):
        return None
    usable, status = folder_status(snapshot)
    if not usable:
        raise ModelLoadError(f"{repo_id}: {status} (in {snapshot}); `scribe models pull {repo_id}` completes it")
    return snapshot


def load_model(
    name_or_path: str, *, device: str = "auto", dtype: str = "auto", trust_remote_code: bool = False
) -> Backend:
    """Resolve `name_or_path` and load it with its backend (ModelNotFound, ModelLoadError on failure)."""
    ref = resolve_model(name_or_path)
    if ref.kind not in BACKENDS:
        raise ModelLoadError(f"{ref.path}: no backend for {ref.kind} models in this version of scribe")
    module_name, class_name = BACKENDS[ref.kind].split(":")
    backend_class = getattr(importlib.import_module(module_name), class_name)
    return backend_class.load(ref.path, name=ref.name, device=device, dtype=dtype, trust_remote_code=trust_remote_code)
