"""Find a model by name or path and load it with the backend that claims it (the installed backends and their
kinds: `scribe.backend_plugins`).

Resolution order: a name a backend claims (`Backend.locate`, such as "remote:NAME"), an existing file or folder, a
bundled model, a model scribe trained (`Paths.models`), then a repository already in the Hugging Face cache. Which
backend loads a file or folder is each backend's `detect`; third-party backends are asked before scribe's own, so a
plugin can claim files more precisely. Nothing is downloaded here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scribe.backend_plugins import FALLBACK_KIND, backend_class, backend_names, detect_kind, is_builtin
from scribe.config import Paths, hf_cache_dir
from scribe.engine.base import Backend, ModelLoadError, ModelNotFound
from scribe.store.bundled import bundled_model_names, bundled_models_dir
from scribe.store.known import known_model

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
    if light and ref.kind == FALLBACK_KIND and is_builtin(ref.kind):
        from scribe.engine import gpt2_light

        if gpt2_light.can_load(ref.path, device=device, dtype=dtype, trust_remote_code=trust_remote_code):
            return gpt2_light.load_light(ref.path, name=ref.name, dtype=dtype)
    backend = backend_class(ref.kind)
    if notice is not None and (line := backend.loading_notice(ref.path)):
        notice(line)
    return backend.load(ref.path, name=ref.name, device=device, dtype=dtype, trust_remote_code=trust_remote_code)
