"""Remote endpoints: model servers (llama.cpp, Ollama, vLLM, KoboldCpp, OpenAI-compatible) the writer can pick like a model.

They live in `remotes.toml` in the config folder, one table each:

    [remote.workstation]
    base_url = "http://192.168.1.20:8000/v1"
    model = "meta-llama/Llama-3.1-8B"
    server = "vllm"                # the server's dialect: see SERVERS and scribe/engine/remote/
    api_key_env = "WORKSTATION_KEY"  # the NAME of the environment variable holding the API key (optional)
    chat = false                   # true: use /v1/chat/completions (OpenAI-style servers, for chat models)
    timeout_s = 60                 # give up when no text came for this long (keep-alive comments do not count)
    deadline_s = 600               # give up when one answer takes longer than this in all (optional)
    banned_phrases = ["suddenly"]  # KoboldCpp only: phrases the server never writes

An API key is never stored, only the name of the variable that holds it; the key is read when a stream starts and never
appears in a file, a log line or an error message. A remote is picked as `remote:NAME`.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scribe.config import SETTINGS_READ_LIMIT, ConfigError, Paths
from scribe.files import atomic_write, read_bounded
from scribe.types import ModelNotFound

REMOTE_PREFIX = "remote:"
REMOTES_FILE_NAME = "remotes.toml"
SERVERS = ("openai", "vllm", "llama.cpp", "llama-cpp-python", "ollama", "koboldcpp")
"""Server kinds: each is one dialect (its endpoints, parameters and answer shapes) in scribe/engine/remote/."""
CHAT_SERVERS = ("openai", "vllm", "llama.cpp", "llama-cpp-python")
"""The kinds that serve OpenAI's /v1/chat/completions."""
FIELDS = ("base_url", "model", "server", "api_key_env", "context_length", "timeout_s", "deadline_s", "chat",
          "banned_phrases")

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


@dataclass(frozen=True)
class RemoteEndpoint:
    """One configured server. Validated on creation; no field ever holds a secret."""

    name: str
    base_url: str
    """Server URL, with or without the trailing /v1 (e.g. http://127.0.0.1:8080/v1)."""
    model: str
    """Model name the server knows (the `model` field of each request)."""
    server: str = "openai"
    """Server kind: openai (standard parameters only), vllm, llama.cpp, llama-cpp-python, ollama or koboldcpp."""
    api_key_env: str | None = None
    """Name of the environment variable holding the API key; None when the server needs none."""
    context_length: int | None = None
    """The model's context window in tokens, when the server does not report it."""
    timeout_s: float = 60.0
    """Seconds to wait for the next piece of text before giving up (the stall timer: keep-alive comments and events
    without text do not reset it)."""
    deadline_s: float | None = None
    """Seconds one answer may take in all, connecting included; None: no limit beyond the stall timer."""
    chat: bool = False
    """Send the text as one user message to /v1/chat/completions (chat models) instead of continuing it."""
    banned_phrases: tuple[str, ...] = ()
    """Words or phrases the server must never write (KoboldCpp's banned tokens and phrases)."""

    def __post_init__(self) -> None:
        where = f"remote {self.name!r}"
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ConfigError(f"remote name {self.name!r}: use letters, digits, '.', '_' and '-' (up to 64)")
        if not isinstance(self.base_url, str):
            raise ConfigError(f"{where}: base_url must be a URL")
        parts = urlsplit(self.base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{where}: base_url must start with http:// or https:// and name a host")
        if parts.username or parts.password:
            raise ConfigError(f"{where}: base_url must not contain credentials; put the key in an environment "
                              "variable and set api_key_env to its name")
        if parts.query or parts.fragment:
            raise ConfigError(f"{where}: base_url must not have a query or fragment")
        object.__setattr__(self, "base_url", self.base_url.strip().rstrip("/"))
        if not isinstance(self.model, str) or not self.model.strip():
            raise ConfigError(f"{where}: model must name the model the server serves")
        if self.server not in SERVERS:
            raise ConfigError(f"{where}: server must be one of {', '.join(SERVERS)}, got {self.server!r}")
        if self.api_key_env is not None and (not isinstance(self.api_key_env, str) or not _ENV_VAR.fullmatch(self.api_key_env)):
            # The value is not echoed: it may be a key pasted by mistake.
            raise ConfigError(f"{where}: api_key_env must be the NAME of an environment variable (letters, digits, _), "
                              "not the key itself")
        if self.context_length is not None and (not isinstance(self.context_length, int) or self.context_length < 1):
            raise ConfigError(f"{where}: context_length must be a positive whole number")
        for name in ("timeout_s", "deadline_s"):
            value = getattr(self, name)
            if value is None and name == "deadline_s":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
                raise ConfigError(f"{where}: {name} must be a positive number of seconds")
            object.__setattr__(self, name, float(value))
        if not isinstance(self.chat, bool):
            raise ConfigError(f"{where}: chat must be true or false")
        if self.chat and self.server not in CHAT_SERVERS:
            raise ConfigError(f"{where}: a {self.server} server has no chat endpoint here; chat works with "
                              f"{', '.join(CHAT_SERVERS)}")
        phrases = self.banned_phrases
        if not isinstance(phrases, (list, tuple)) or not all(isinstance(p, str) and p for p in phrases):
            raise ConfigError(f"{where}: banned_phrases must be a list of non-empty strings")
        if phrases and self.server != "koboldcpp":
            raise ConfigError(f"{where}: only a koboldcpp server bans phrases; remove banned_phrases")
        object.__setattr__(self, "banned_phrases", tuple(phrases))

    @property
    def api_root(self) -> str:
        """The base URL ending in /v1, where /completions and /models live."""
        return self.base_url if self.base_url.endswith("/v1") else self.base_url + "/v1"

    @property
    def server_root(self) -> str:
        """The base URL without /v1 (where servers put their own extras, such as /tokenize)."""
        return self.base_url.removesuffix("/v1")

    def api_key(self) -> str | None:
        """The API key from the environment, read now; None when none is configured."""
        if self.api_key_env is None:
            return None
        return os.environ.get(self.api_key_env) or None


def remotes_file(paths: Paths | None = None) -> Path:
    """Where the remote endpoints are configured."""
    return (paths or Paths.discover()).config / REMOTES_FILE_NAME


def load_remotes(paths: Paths | None = None) -> dict[str, RemoteEndpoint]:
    """The configured endpoints by name (none when the file does not exist)."""
    file = remotes_file(paths)
    if not file.exists():
        return {}
    try:
        data = tomllib.loads(read_bounded(file, SETTINGS_READ_LIMIT, what="remotes file").decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read remote endpoints: {exc}") from None
    tables = data.get("remote", {})
    if set(data) - {"remote"} or not isinstance(tables, dict):
        raise ConfigError(f"{file}: expected only [remote.NAME] tables")
    return {name: _endpoint(name, values, file) for name, values in tables.items()}


def get_remote(name: str, paths: Paths | None = None) -> RemoteEndpoint:
    """The endpoint called `name` (with or without the `remote:` prefix); ModelNotFound when it is not configured."""
    name = name.removeprefix(REMOTE_PREFIX)
    remotes = load_remotes(paths)
    if name not in remotes:
        known = ", ".join(sorted(remotes)) or "none"
        raise ModelNotFound(f"no remote endpoint {name!r} in {remotes_file(paths)} (configured: {known})")
    return remotes[name]


def save_remote(endpoint: RemoteEndpoint, paths: Paths | None = None) -> Path:
    """Add or replace an endpoint in the file and return the file's path."""
    remotes = load_remotes(paths)
    remotes[endpoint.name] = endpoint
    return _write(remotes, paths)


def delete_remote(name: str, paths: Paths | None = None) -> Path:
    """Remove an endpoint from the file (ModelNotFound when it is not there)."""
    endpoint = get_remote(name, paths)
    remotes = load_remotes(paths)
    del remotes[endpoint.name]
    return _write(remotes, paths)


def _endpoint(name: str, values: Any, file: Path) -> RemoteEndpoint:
    if not isinstance(values, dict):
        raise ConfigError(f"{file}: [remote.{name}] must be a table")
    if "api_key" in values:
        raise ConfigError(f"{file}: [remote.{name}] holds an api_key; keys are not kept in files: put it in an "
                          "environment variable, set api_key_env to that variable's name, and delete the api_key line")
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise ConfigError(f"{file}: [remote.{name}] unknown key(s): {', '.join(unknown)}")
    try:
        return RemoteEndpoint(name=name, **values)
    except TypeError:
        raise ConfigError(f"{file}: [remote.{name}] needs base_url and model") from None
    except ConfigError as exc:
        raise ConfigError(f"{file}: {exc}") from None


def _write(remotes: dict[str, RemoteEndpoint], paths: Paths | None) -> Path:
    import tomli_w

    file = remotes_file(paths)
    file.parent.mkdir(parents=True, exist_ok=True)
    tables = {
        name: {k: _toml_value(v) for k, v in asdict(e).items() if k != "name" and v not in (None, (), False)}
        for name, e in sorted(remotes.items())
    }
    header = "# scribe's remote endpoints. API keys are never stored here: api_key_env names the variable holding one.\n"
    return atomic_write(file, (header + tomli_w.dumps({"remote": tables})).encode("utf-8"))


def _toml_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
