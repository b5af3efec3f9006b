"""Settings: where scribe keeps things (platformdirs), and the settings file (TOML) with environment overrides.

Precedence, lowest first: defaults, `config.toml` in the config directory, environment variables (`SCRIBE_MODEL`,
`SCRIBE_DEVICE`, `SCRIBE_DTYPE`), then command-line flags (applied by the caller).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from platformdirs import PlatformDirs

from scribe.sampling.params import InvalidSetting, SamplingParams

APP_NAME = "scribe"
DEFAULT_MODEL = "scribe-gutenberg"
CONFIG_FILE_NAME = "config.toml"


class ConfigError(ValueError):
    """The settings file cannot be read or holds a bad value; the message names the file and the key."""


@dataclass(frozen=True)
class Paths:
    """The directories scribe reads and writes. `SCRIBE_HOME` puts all of them under one folder (tests, portable use)."""

    config: Path
    data: Path
    cache: Path
    log: Path

    @classmethod
    def discover(cls) -> "Paths":
        """Platform directories, or folders under `$SCRIBE_HOME` when it is set."""
        home = os.environ.get("SCRIBE_HOME")
        if home:
            root = Path(home).expanduser()
            return cls(config=root / "config", data=root / "data", cache=root / "cache", log=root / "log")
        dirs = PlatformDirs(APP_NAME, appauthor=False)
        return cls(
            config=Path(dirs.user_config_dir),
            data=Path(dirs.user_data_dir),
            cache=Path(dirs.user_cache_dir),
            log=Path(dirs.user_log_dir),
        )

    @property
    def config_file(self) -> Path:
        """The TOML settings file."""
        return self.config / CONFIG_FILE_NAME

    @property
    def autosave(self) -> Path:
        """Where unsaved document text is journalled."""
        return self.data / "autosave"

    @property
    def models(self) -> Path:
        """Models scribe trained or imported."""
        return self.data / "models"


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache in use (honours HF_HUB_CACHE and HF_HOME) without importing huggingface_hub."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    hf_home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(hf_home).expanduser() / "hub"


@dataclass(frozen=True)
class Settings:
    """Everything the writer can set. Each field's docstring is its help text."""

    model: str = DEFAULT_MODEL
    """Model name (bundled, scribe-trained or Hugging Face repo id) or a folder path."""
    device: str = "auto"
    """Where the model runs: auto, cpu, cuda, cuda:N or mps."""
    dtype: str = "auto"
    """Weight precision: auto (bfloat16 on a GPU that supports it, float32 on CPU), float32, float16, bfloat16, or int8
    (CPU: int8 weight matrices, about 3x faster decoding)."""
    alternatives: int = 5
    """How many top alternatives each streamed token carries."""
    autosave_seconds: float = 3.0
    """Seconds between autosaves of the open document."""
    trust_remote_code: bool = False
    """Allow models whose code lives in their repository (runs that code: only for models you trust)."""
    theme: str = "textual-dark"
    """The Textual theme."""
    prose: bool = True
    """Continuations as prose: join the single line breaks a model puts inside a paragraph (paragraph breaks stay)."""
    drafts: int = 3
    """How many continuations the studio's drafts key asks for at once."""
    sampling: SamplingParams = field(default_factory=SamplingParams)
    """Sampling parameters (the [sampling] table)."""
    keys: dict[str, str] = field(default_factory=dict)
    """Key remapping: binding id -> keys (the [keys] table), e.g. continue = "ctrl+g"."""

    def replace(self, **changes: Any) -> "Settings":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for the TOML file (None values left out)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["sampling"] = {k: v for k, v in self.sampling.to_dict().items() if v is not None}
        data["keys"] = dict(self.keys)
        return data


_ENV_OVERRIDES = {"SCRIBE_MODEL": "model", "SCRIBE_DEVICE": "device", "SCRIBE_DTYPE": "dtype"}


def settings_from_dict(data: dict[str, Any], source: str = "settings") -> Settings:
    """Build Settings from plain values, with a clear error naming `source` for unknown keys or bad values."""
    known = {f.name: f for f in dataclasses.fields(Settings)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{source}: unknown setting(s): {', '.join(unknown)}")
    values = dict(data)
    try:
        if "sampling" in values:
            values["sampling"] = SamplingParams.from_dict(values["sampling"])
    except (InvalidSetting, TypeError) as exc:
        raise ConfigError(f"{source}: [sampling] {exc}") from None
    defaults = Settings()
    for name, value in values.items():
        expected = type(getattr(defaults, name))
        if name in ("sampling",):
            continue
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            values[name] = float(value)
        elif not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ConfigError(f"{source}: {name} must be {expected.__name__}, got {value!r}")
    if "keys" in values and not all(isinstance(k, str) and isinstance(v, str) for k, v in values["keys"].items()):
        raise ConfigError(f"{source}: [keys] maps binding ids to key strings")
    return Settings(**values)


def load_settings(paths: Paths | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Defaults, then the settings file, then environment overrides."""
    paths = paths or Paths.discover()
    env = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    file = paths.config_file
    if file.exists():
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{file}: cannot read settings: {exc}") from None
    for var, name in _ENV_OVERRIDES.items():
        if env.get(var):
            data[name] = env[var]
    return settings_from_dict(data, source=str(file))


def save_settings(settings: Settings, paths: Paths | None = None) -> Path:
    """Write the settings file atomically and return its path."""
    import tomli_w

    paths = paths or Paths.discover()
    file = paths.config_file
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".toml.tmp")
    tmp.write_text(tomli_w.dumps(settings.to_dict()), encoding="utf-8")
    os.replace(tmp, file)
    return file
