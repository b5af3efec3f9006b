"""The installed backends and which one claims a file or folder (its kind), below both the engine and the store.

Backends register in the `scribe.backends` entry-point group (`name = "module:Class"`, the class a
`scribe.engine.base.Backend`); scribe's own are registered there too (pyproject.toml), and `BUILTIN_BACKENDS` stands in
for them when scribe runs from a source checkout that was not reinstalled. A third-party package adds a backend by
declaring one entry point. A backend's module is imported only when it is asked something, and by name, so this module
imports nothing of the engine: the store asks it for kinds, the engine's registry for the class that loads a model.
Each backend's `detect` imports none of the model libraries.
"""

from __future__ import annotations

import functools
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from scribe.types import ModelLoadError

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


def backend_class(name: str) -> Any:
    """The class registered as `name` (ModelLoadError when it is not installed, does not import or is no backend)."""
    target = _entry_point_targets().get(name)
    if target is None:
        raise ModelLoadError(f"no backend for {name} models in this installation of scribe")
    module_name, _, class_name = target.partition(":")
    try:
        cls = getattr(import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ModelLoadError(f"the {name} backend ({target}) cannot be imported: {exc}") from exc
    if not (isinstance(cls, type) and callable(getattr(cls, "detect", None)) and callable(getattr(cls, "load", None))):
        raise ModelLoadError(f"the {name} backend ({target}) is not a scribe Backend")
    return cls


def is_builtin(name: str) -> bool:
    """Whether backend `name` is scribe's own (no installed package replaced it)."""
    return BUILTIN_BACKENDS.get(name) == _entry_point_targets().get(name)


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
