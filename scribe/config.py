"""Settings: where scribe keeps things (platformdirs), and the settings file (TOML) with environment overrides.

Precedence, lowest first: defaults, `config.toml` in the config directory, environment variables (`SCRIBE_MODEL`,
`SCRIBE_DEVICE`, `SCRIBE_DTYPE`), then command-line flags (applied by the caller).
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from platformdirs import PlatformDirs

from scribe.files import atomic_write, read_bounded
from scribe.sampling.params import InvalidSetting, SamplingParams

APP_NAME = "scribe"
DEFAULT_MODEL = "scribe-gutenberg"
CONFIG_FILE_NAME = "config.toml"
SETTINGS_READ_LIMIT = 1024 * 1024
"""The most bytes a settings or preset file may have (they are a few hundred)."""


DTYPES = ("auto", "float32", "float16", "bfloat16", "int8")
"""The weight precisions a model can be loaded in."""
MAX_ALTERNATIVES = 20
"""The most alternatives a streamed token may carry."""
AUTOSAVE_RANGE = (0.5, 3600.0)
"""Seconds between autosaves: at least half a second, at most an hour."""
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


class ConfigError(InvalidSetting):
    """A settings value or file scribe refuses; the message names the source (file, environment variable), the
    setting and what it must be."""


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
    gguf_folders: list[str] = field(default_factory=list)
    """Folders whose .gguf model files `scribe models list` and the model picker offer besides scribe's own models
    folder, searched with their subfolders (e.g. where LM Studio or KoboldCpp keep theirs); ~ is expanded."""
    sampling: SamplingParams = field(default_factory=SamplingParams)
    """Sampling parameters (the [sampling] table)."""
    keys: dict[str, str] = field(default_factory=dict)
    """Key remapping: binding id -> keys (the [keys] table), e.g. continue = "ctrl+g"."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            check_setting(f.name, getattr(self, f.name))

    def replace(self, **changes: Any) -> "Settings":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for the TOML file (None values left out)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["sampling"] = {k: v for k, v in self.sampling.to_dict().items() if v is not None}
        data["keys"] = dict(self.keys)
        data["gguf_folders"] = list(self.gguf_folders)
        return data


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_setting(name: str, value: Any) -> None:
    """Refuse a value of the wrong type or out of range with ConfigError("<name>: <what is wrong>"): the one check
    behind the settings file, the environment, the command line and the settings panel."""
    problem = None
    if name in ("model", "theme"):
        problem = None if isinstance(value, str) and value.strip() else "cannot be empty"
    elif name == "device":
        problem = None if isinstance(value, str) and _DEVICE.match(value) else (
            f"{value!r} is not a device; use auto, cpu, cuda, cuda:N or mps")
    elif name == "dtype":
        problem = None if value in DTYPES else f"{value!r} is not one of {', '.join(DTYPES)}"
    elif name == "alternatives":
        if not isinstance(value, int) or isinstance(value, bool):
            problem = f"{value!r} is not a whole number"
        elif not 0 <= value <= MAX_ALTERNATIVES:
            problem = f"{value} is out of range; it must be between 0 and {MAX_ALTERNATIVES}"
    elif name == "autosave_seconds":
        low, high = AUTOSAVE_RANGE
        if not _is_number(value):
            problem = f"must be a number, got {value!r}"
        elif not low <= value <= high:
            problem = f"{value} is out of range; it must be between {low} and {high:g}"
    elif name == "trust_remote_code":
        problem = None if isinstance(value, bool) else f"must be true or false, got {value!r}"
    elif name == "gguf_folders":
        problem = None if isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value) else (
            'must be a list of folder paths, e.g. gguf_folders = ["~/.lmstudio/models"]')
    elif name == "sampling":
        problem = None if isinstance(value, SamplingParams) else "must be a table of sampling settings"
    elif name == "keys":
        problem = None if isinstance(value, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()) else (
            "the [keys] table maps binding ids to key strings")
    if problem:
        raise ConfigError(f"{name}: {problem}")


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
            if not isinstance(values["sampling"], dict):
                raise TypeError("must be a table of sampling settings")
            values["sampling"] = SamplingParams.from_dict(values["sampling"])
    except (InvalidSetting, TypeError) as exc:
        raise ConfigError(f"{source}: [sampling] {exc}") from None
    try:
        return Settings(**values)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def load_settings(paths: Paths | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Defaults, then the settings file, then environment overrides."""
    paths = paths or Paths.discover()
    env = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    file = paths.config_file
    if file.exists() or file.is_symlink():
        try:
            data = tomllib.loads(read_bounded(file, SETTINGS_READ_LIMIT, what="settings file").decode("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{file}: cannot read settings: {exc}") from None
    settings = settings_from_dict(data, source=str(file))
    overrides = {name: env[var] for var, name in _ENV_OVERRIDES.items() if env.get(var)}
    for var, name in _ENV_OVERRIDES.items():
        if var in env and env[var]:
            try:
                check_setting(name, env[var])
            except ConfigError as exc:
                raise ConfigError(f"environment variable {var}: {exc}") from None
    return settings.replace(**overrides)


def with_flags(settings: Settings, **flags: Any) -> Settings:
    """`settings` with the command-line flags that were given (not None) applied, checked like every other source."""
    return settings.replace(**{name: value for name, value in flags.items() if value is not None})


def save_settings(settings: Settings, paths: Paths | None = None) -> Path:
    """Write the settings file atomically and return its path."""
    import tomli_w

    paths = paths or Paths.discover()
    file = paths.config_file
    file.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(file, tomli_w.dumps(settings.to_dict()).encode("utf-8"))
    return file
