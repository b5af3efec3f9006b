"""Themes are files: each TOML file in `themes/` (shipped) or `<config>/themes/` (the writer's) describes one Textual
`Theme` by its fields (name, primary, secondary, accent, foreground, background, surface, panel, warning, error,
success, boost, dark, luminosity_spread, text_alpha, variables). The app registers them all at start-up.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from textual.theme import Theme

from scribe.store.bundled import bundled_themes_dir

_FIELDS = {f.name for f in dataclasses.fields(Theme)}


class ThemeFileError(ValueError):
    """A theme file that cannot be read; the message names the file."""


def read_theme(file: Path) -> Theme:
    """One theme file (the theme's name defaults to the file's stem)."""
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ThemeFileError(f"{file}: cannot read: {exc}") from None
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise ThemeFileError(f"{file}: unknown theme field(s): {', '.join(unknown)}")
    data.setdefault("name", file.stem)
    if "primary" not in data:
        raise ThemeFileError(f"{file}: a theme needs at least a primary colour")
    try:
        theme = Theme(**data)
        theme.to_color_system()  # parses every colour
    except Exception as exc:  # textual raises several kinds for a bad colour
        raise ThemeFileError(f"{file}: {exc}") from None
    return theme


def theme_files(config_dir: Path) -> list[Path]:
    """The shipped theme files, then the writer's (a writer's theme with a shipped name replaces it)."""
    found: list[Path] = []
    for folder in (bundled_themes_dir(), config_dir / "themes"):
        if folder.is_dir():
            found.extend(sorted(folder.glob("*.toml")))
    return found


def load_themes(config_dir: Path) -> tuple[list[Theme], list[str]]:
    """Every readable theme, and one error line per file that is not."""
    themes, errors = [], []
    for file in theme_files(config_dir):
        try:
            themes.append(read_theme(file))
        except ThemeFileError as exc:
            errors.append(str(exc))
    return themes, errors
