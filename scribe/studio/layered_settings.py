"""Settings in scopes: the built-in defaults, the model's recommendations, the global settings file, the project's
default settings (the `[settings]` table of its project file, for its chapters) and the document's own settings (a
file beside it), each over the one before.

A sampling setting the writer has not chosen (not in the document's settings, not chosen globally: at its built-in
default in the settings file and not named in `chosen-settings.json` beside it, which records the names of the values
chosen in the studio, the built-in default included) takes the loaded model's recommended value, from the
`generation_config.json` in its folder: the bundled model recommends temperature 0.8, top-k 40, top-p 0.95 and
repetition penalty 1.1. The document's own settings hold what the writer chose while writing it (model, sampling,
drafts, prose, alternatives) and come back when it is reopened.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from scribe.config import Settings
from scribe.sampling.params import InvalidSetting, SamplingParams
from scribe.studio.document import atomic_write

SETTINGS_SUFFIX = ".scribe-settings.json"
"""The document's own settings live in `<document><suffix>`, beside its branch tree."""
DOCUMENT_FIELDS = ("model", "device", "dtype", "alternatives", "prose", "drafts")
"""The non-sampling settings a document keeps (every sampling setting is kept too)."""
RECOMMENDED_FIELDS = ("temperature", "top_k", "top_p", "min_p", "typical_p", "repetition_penalty",
                      "no_repeat_ngram_size")
"""The generation_config.json values taken as a model's recommendation (its length and special tokens are not)."""

Scope = Literal["document", "project", "global", "model", "default"]


class SettingsFileError(Exception):
    """A document's settings file cannot be read; the message names it and says what to do."""


def _sampling_names() -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(SamplingParams))


def settings_path(document: Path) -> Path:
    """Where a document's own settings are saved."""
    return document.with_name(document.name + SETTINGS_SUFFIX)


def value_of(settings: Settings, name: str) -> Any:
    """One setting's value, sampling or not."""
    return getattr(settings.sampling, name) if name in _sampling_names() else getattr(settings, name)


def with_values(settings: Settings, values: dict[str, Any]) -> Settings:
    """`settings` with some settings (sampling or not) changed; InvalidSetting when a value is refused."""
    sampling = {k: v for k, v in values.items() if k in _sampling_names()}
    others = {k: v for k, v in values.items() if k not in sampling}
    return settings.replace(sampling=settings.sampling.replace(**sampling), **others) if sampling else settings.replace(**others)


def load_document_settings(document: Path | None) -> dict[str, Any]:
    """The settings a document keeps (empty when it has none); SettingsFileError when its file cannot be used."""
    if document is None:
        return {}
    path = settings_path(document)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        values = checked_values(dict(data.get("settings", {})))
    except (OSError, UnicodeDecodeError, ValueError, TypeError, AttributeError) as exc:
        raise SettingsFileError(f"{path}: cannot read the document's settings ({exc}); fix or delete the file") from None
    return values


def checked_values(values: dict[str, Any]) -> dict[str, Any]:
    """Settings a document or a project keeps, checked: ValueError naming an unknown setting or a refused value."""
    known = set(DOCUMENT_FIELDS) | set(_sampling_names())
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(unknown)}")
    if "stop" in values:
        values = {**values, "stop": tuple(values["stop"])}
    try:
        with_values(Settings(), values)  # refuses a bad value here, not later
    except (InvalidSetting, TypeError) as exc:
        raise ValueError(str(exc)) from None
    return values


def save_document_settings(document: Path, values: dict[str, Any]) -> Path:
    """Write a document's own settings beside it (atomically)."""
    path = settings_path(document)
    plain = {k: list(v) if isinstance(v, tuple) else v for k, v in sorted(values.items())}
    atomic_write(path, (json.dumps({"format": "scribe-settings", "settings": plain}, indent=2) + "\n").encode("utf-8"))
    return path


def recommended_sampling(model_location: str | Path | None) -> dict[str, Any]:
    """The sampling values a model's folder recommends (its generation_config.json); values scribe would refuse
    are left out."""
    if not model_location:
        return {}
    path = Path(model_location)
    path = path / "generation_config.json" if path.is_dir() else path.with_name("generation_config.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("do_sample") is False:
        return {}
    recommended = {}
    for name in RECOMMENDED_FIELDS:
        if name in data:
            try:
                SamplingParams().replace(**{name: data[name]})
            except (InvalidSetting, TypeError, ValueError):
                continue
            recommended[name] = data[name]
    return recommended


def chosen_path(config_file: Path) -> Path:
    """The file naming the global settings the writer chose in the studio (their values are in `config_file`)."""
    return config_file.with_name("chosen-settings.json")


def load_chosen(config_file: Path) -> set[str]:
    """The names of the global settings the writer chose (an unreadable file names none)."""
    try:
        names = json.loads(chosen_path(config_file).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return set()
    return {name for name in names if isinstance(name, str)} if isinstance(names, list) else set()


def save_chosen(config_file: Path, names: set[str]) -> None:
    """Record the names of the global settings the writer chose."""
    atomic_write(chosen_path(config_file), (json.dumps(sorted(names)) + "\n").encode("utf-8"))


@dataclass
class LayeredSettings:
    """The scopes and what they give: `effective` is what the studio uses, `scope` where one value comes from."""

    global_settings: Settings
    document: dict[str, Any] = field(default_factory=dict)
    recommended: dict[str, Any] = field(default_factory=dict)
    chosen: set[str] = field(default_factory=set)
    """Global settings the writer chose, even where the value is the built-in default."""
    project: dict[str, Any] = field(default_factory=dict)
    """The default settings of the project the document is a chapter of."""

    def scope(self, name: str) -> Scope:
        """Where the value in effect of setting `name` comes from."""
        if name in self.document:
            return "document"
        if name in self.project:
            return "project"
        if name in self.chosen or value_of(self.global_settings, name) != value_of(Settings(), name):
            return "global"
        if name in self.recommended:
            return "model"
        return "default"

    def effective(self) -> Settings:
        """The global settings, under the model's recommendations where the writer chose nothing, under the
        project's defaults, under the document's own settings."""
        recommended = {k: v for k, v in self.recommended.items() if self.scope(k) == "model"}
        return with_values(with_values(with_values(self.global_settings, recommended), self.project), self.document)

    def choose(self, values: dict[str, Any], *, in_document: bool) -> None:
        """The writer chose `values`: they go to the global settings, and to the document's when it has a file."""
        self.global_settings = with_values(self.global_settings, values)
        self.chosen.update(values)
        if in_document:
            self.document.update({k: v for k, v in values.items() if k in DOCUMENT_FIELDS or k in _sampling_names()})
