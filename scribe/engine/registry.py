"""Find a model by name or path and load it with the backend that claims it.

Backends register in the `scribe.backends` entry-point group (`name = "module:Class"`, the class a
`scribe.engine.base.Backend`); scribe's own are registered there too (pyproject.toml), and `BUILTIN_BACKENDS` stands in
for them when scribe runs from a source checkout that was not reinstalled. A third-party package adds a backend by
declaring one entry point. Entry points are loaded (their modules imported) only when a model is resolved, so importing
this module imports neither torch nor huggingface_hub.

Resolution order: a name a backend claims (`Backend.locate`, such as "remote:NAME"), an existing file or folder, a
bundled model, a model scribe trained (`Paths.models`), then a repository already in the Hugging Face cache. Which
backend loads a file or folder is each backend's `detect`; third-party backends are asked before scribe's own, so a
plugin can claim files more precisely. Nothing is downloaded here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path

from scribe.config import Paths, hf_cache_dir
from scribe.engine.base import Backend, ModelLoadError, ModelNotFound
from scribe.store.bundled import bundled_model_names, bundled_models_dir
from scribe.store.known import known_model

ENTRY_POINT_GROUP = "scribe.backends"
BUILTIN_BACKENDS: dict[str, str] = {
    "transformers": "scribe.engine.transformers_backend:TransformersBackend",
    "gguf": "scribe.engine.gguf_backend:GGUFBackend",
    "keras": "scribe.engine.keras_backend:KerasBackend",
    "remote": "scribe.engine.remote_backend:RemoteBackend",
}
"""scribe's own backends, as pyproject.toml registers them."""
FALLBACK_KIND = "transformers"
"""The kind of a folder no backend claims (its loader says what is missing)."""


@functools.cache
def _entry_point_targets() -> dict[str, str]:
    """Backend name -> "module:Class": the installed entry points, over scribe's own."""
    found = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return {**{name: target for name, target in BUILTIN_BACKENDS.items() if name not in found}, **found}


def backend_names() -> list[str]:
    """Registered backends, third-party ones first (the order `detect` is asked in)."""
    targets = _entry_point_targets()
    return sorted(targets, key=lambda name: (targets[name] == BUILTIN_BACKENDS.get(name), name))


def backend_class(name: str) -> type[Backend]:
    """The class registered as `name` (ModelLoadError when it is not installed or does not import)."""
    target = _entry_point_targets().get(name)
    if target is None:
        raise ModelLoadError(f"no backend for {name} models in this installation of scribe")
    module_name, _, class_name = target.partition(":")
    try:
        cls = getattr(import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ModelLoadError(f"the {name} backend ({target}) cannot be imported: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise ModelLoadError(f"the {name} backend ({target}) is not a scribe Backend")
    return cls


def reload_backends() -> None:
    """Read the entry points again (after installing a backend package in this process)."""
    _entry_point_targets.cache_clear()


def detect_kind(path: Path) -> str | None:
    """The name of the first backend whose `detect` claims the file or folder `path`, or None."""
    for name in backend_names():
        try:
            cls = backend_class(name)
        except ModelLoadError:
            continue  # a broken third-party backend does not stop the others
        if cls.detect(path):
            return name
    return None


@dataclass(frozen=True)
class ModelRef:
    """A resolved model: the name to show, the backend kind that loads it, and its folder."""

    name: str
    kind: str
    path: Path


def model_kind(path: Path) -> str:
    """The backend kind for a model file or folder (`detect_kind`; a folder none claims goes to transformers, whose
    loader says what the folder lacks)."""
    kind = detect_kind(path)
    if kind is None:
        if path.is_dir():
            return FALLBACK_KIND
        raise ModelLoadError(f"{path}: no installed backend opens this file ({', '.join(backend_names())} installed)")
    return kind


def resolve_model(name_or_path: str) -> ModelRef:
    """Find the model called `name_or_path`, or raise ModelNotFound saying where it looked."""
    for kind in backend_names():
        try:
            cls = backend_class(kind)
        except ModelLoadError:
            continue
        located = cls.locate(name_or_path)
        if located is not None:
            return ModelRef(name=name_or_path, kind=kind, path=located)
    target = Path(name_or_path).expanduser()
    if name_or_path.strip() and target.exists():
        target = target.resolve()
        return ModelRef(name=target.name, kind=model_kind(target), path=target)
    if _plain_name(name_or_path):
        for root in (bundled_models_dir(), Paths.discover().models):
            candidate = root / name_or_path
            if candidate.exists():
                return ModelRef(name=name_or_path, kind=model_kind(candidate), path=candidate)
    known = known_model(name_or_path)
    snapshot = _hf_cached_snapshot(known.repo_id if known else name_or_path)
    if snapshot is not None:
        return ModelRef(name=name_or_path, kind=model_kind(snapshot), path=snapshot)
    bundled = ", ".join(bundled_model_names()) or "none"
    raise ModelNotFound(
        f"no model {name_or_path!r}: not a file or folder ({target.absolute()}), not a bundled model in "
        f"{bundled_models_dir()} (bundled: {bundled}), not a scribe model in {Paths.discover().models}, "
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
    if detect_kind(snapshot) not in (None, FALLBACK_KIND):
        return snapshot  # a GGUF file or another backend's format: its backend checks it when it loads
    usable, status = folder_status(snapshot)
    if not usable:
        raise ModelLoadError(f"{repo_id}: {status} (in {snapshot}); `scribe models pull {repo_id}` completes it")
    return snapshot


def load_model(
    name_or_path: str, *, device: str = "auto", dtype: str = "auto", trust_remote_code: bool = False,
    light: bool = False, notice: Callable[[str], None] | None = None,
) -> Backend:
    """Resolve `name_or_path` and load it with its backend (ModelNotFound, ModelLoadError on failure).

    `notice` is called with the backend's `loading_notice` before a load that takes long (TensorFlow's start).

    `light`: the caller only streams (no scoring, analysis, search or chat), so a GPT-2 folder may load through the
    quick-start loader (`scribe.engine.gpt2_light`), which does not import transformers."""
    ref = resolve_model(name_or_path)
    if light and ref.kind == FALLBACK_KIND and BUILTIN_BACKENDS.get(ref.kind) == _entry_point_targets().get(ref.kind):
        from scribe.engine import gpt2_light

        if gpt2_light.can_load(ref.path, device=device, dtype=dtype, trust_remote_code=trust_remote_code):
            return gpt2_light.load_light(ref.path, name=ref.name, dtype=dtype)
    backend = backend_class(ref.kind)
    if notice is not None and (line := backend.loading_notice(ref.path)):
        notice(line)
    return backend.load(ref.path, name=ref.name, device=device, dtype=dtype, trust_remote_code=trust_remote_code)
