"""The models and themes shipped with scribe (the repository's `models/` and `themes/`, or their copies in a wheel)."""

from __future__ import annotations

from pathlib import Path

from scribe.backend_plugins import detect_kind

_PACKAGE = Path(__file__).resolve().parent.parent


def _shipped(wheel_name: str, repo_name: str) -> Path:
    wheel_copy = _PACKAGE / wheel_name
    return wheel_copy if wheel_copy.is_dir() else _PACKAGE.parent / repo_name


def bundled_models_dir() -> Path:
    """The folder holding the bundled model folders."""
    return _shipped("_bundled_models", "models")


def bundled_themes_dir() -> Path:
    """The folder holding the bundled theme files."""
    return _shipped("_bundled_themes", "themes")


def bundled_model_names() -> list[str]:
    """Names of the bundled models (the folders a backend claims, `scribe.backend_plugins.detect_kind`)."""
    root = bundled_models_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and detect_kind(p) is not None)
