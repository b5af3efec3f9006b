"""Sampling presets: four built-in ones and the writer's own, one TOML file each in `<config>/presets/`.

A preset file holds the sampling settings it changes, for example::

    # presets/noir.toml
    temperature = 0.9
    top_p = 0.92
    repetition_penalty = 1.1

Applying a preset starts from the default settings, so what a preset leaves out is the default, while the length
(`max_new_tokens`), the seed and the stop strings the writer set are kept. A writer's preset with a built-in's name
replaces the built-in.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scribe.sampling.params import InvalidSetting, SamplingParams
from scribe.config import SETTINGS_READ_LIMIT
from scribe.files import atomic_write, read_bounded, set_aside

KEPT = ("max_new_tokens", "seed", "stop")
"""Settings a preset never changes: they belong to the writer's request, not to the sampling style."""

BUILTIN: dict[str, dict[str, Any]] = {
    "precise": {"temperature": 0.3, "top_p": 0.9, "repetition_penalty": 1.05},
    "balanced": {"temperature": 0.8, "top_p": 0.95, "min_p": 0.02},
    "creative": {"temperature": 1.05, "top_p": 0.98, "min_p": 0.05, "repetition_penalty": 1.1},
    "wild": {"temperature": 1.4, "min_p": 0.02, "presence_penalty": 0.4},
}
_NAME = re.compile(r"^[\w][\w .-]{0,63}$")


class PresetError(ValueError):
    """A preset that cannot be read or saved; the message names the file or the preset."""


@dataclass(frozen=True)
class Preset:
    """A named set of sampling settings."""

    name: str
    values: dict[str, Any] = field(hash=False)
    """The sampling settings the preset sets (the others stay at their defaults)."""
    builtin: bool = False
    path: Path | None = None

    def apply(self, current: SamplingParams) -> SamplingParams:
        """`current` with this preset's style: defaults, then the preset, keeping the length, seed and stop strings."""
        kept = {name: getattr(current, name) for name in KEPT}
        return SamplingParams.from_dict({**self.values, **kept})

    def matches(self, params: SamplingParams) -> bool:
        """True when `params` has exactly this preset's style."""
        return self.apply(params) == params


def presets_dir(config_dir: Path) -> Path:
    """Where the writer's presets live."""
    return config_dir / "presets"


def load_presets(config_dir: Path) -> tuple[dict[str, Preset], list[str]]:
    """Built-in and user presets by name (built-ins first, in order), and one error line per unreadable file."""
    presets = {name: Preset(name, values, builtin=True) for name, values in BUILTIN.items()}
    errors: list[str] = []
    folder = presets_dir(config_dir)
    for file in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
        try:
            presets[file.stem] = read_preset(file)
        except PresetError as exc:
            errors.append(_set_aside(file, str(exc)))
    return presets, errors


def _set_aside(file: Path, problem: str) -> str:
    """Move an unreadable preset aside (so saving one of that name cannot overwrite it); the message to show."""
    try:
        return f"{problem}; kept as {set_aside(file)}, not used"
    except OSError as exc:
        return f"{problem}; could not move it aside: {exc}"


def read_preset(file: Path) -> Preset:
    """One preset file, checked."""
    try:
        values = tomllib.loads(read_bounded(file, SETTINGS_READ_LIMIT, what="preset file").decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PresetError(f"{file}: cannot read: {exc}") from None
    try:
        SamplingParams.from_dict(values)
    except (InvalidSetting, TypeError) as exc:
        raise PresetError(f"{file}: {exc}") from None
    return Preset(file.stem, {k: v for k, v in values.items() if k not in KEPT}, path=file)


def save_preset(config_dir: Path, name: str, params: SamplingParams) -> Preset:
    """Save the style of `params` (what differs from the defaults, without length, seed and stop) as preset `name`."""
    import tomli_w

    name = name.strip()
    if not _NAME.match(name):
        raise PresetError(f"preset name {name!r}: use letters, digits, spaces, '.', '-' or '_' (at most 64)")
    defaults = SamplingParams().to_dict()
    values = {k: v for k, v in params.to_dict().items() if k not in KEPT and v != defaults[k]}
    file = presets_dir(config_dir) / f"{name}.toml"
    file.parent.mkdir(parents=True, exist_ok=True)
    try:
        atomic_write(file, tomli_w.dumps(values).encode("utf-8"))
    except OSError as exc:
        raise PresetError(f"{file}: cannot save: {exc}") from None
    return Preset(name, values, path=file)


def matching_preset(presets: dict[str, Preset], params: SamplingParams) -> str | None:
    """The name of the first preset whose style `params` has, if any."""
    return next((name for name, preset in presets.items() if preset.matches(params)), None)
