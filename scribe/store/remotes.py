"""Remote endpoints: OpenAI-compatible completion servers (vLLM, llama.cpp, Ollama, ...) the writer can pick like a model.

They live in `remotes.toml` in the config folder, one table each:

    [remote.workstation]
    base_url = "http://192.168.1.20:8000/v1"
    model = "meta-llama/Llama-3.1-8B"
    server = "vllm"                # which sampling settings the server understands: openai, vllm, llama.cpp, ollama
    api_key_env = "WORKSTATION_KEY"  # the NAME of the environment variable holding the API key (optional)

An API key is never stored, only the name of the variable that holds it; the key is read when a stream starts and never
appears in a file, a log line or an error message. A remote is picked as `remote:NAME`.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scribe.config import ConfigError, Paths
from scribe.types import ModelNotFound

REMOTE_PREFIX = "remote:"
REMOTES_FILE_NAME = "remotes.toml"
SERVERS = ("openai", "vllm", "llama.cpp", "llama-cpp-python", "ollama")
"""Server kinds, which decide the sampling parameters sent (see scribe/engine/remote_backend.py)."""

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
    """Server kind: openai (standard parameters only), vllm, llama.cpp, llama-cpp-python or ollama."""
    api_key_env: str | None = None
    """Name of the environment variable holding the API key; None when the server needs none."""
    context_length: int | None = None
    """The model's context window in tokens, when the server does not report it."""
    timeout_s: float = 60.0
    """Seconds to wait for the next piece of an answer before giving up."""

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
        if isinstance(self.timeout_s, bool) or not isinstance(self.timeout_s, (int, float)) or self.timeout_s <= 0:
            raise ConfigError(f"{where}: timeout_s must be a positive number of seconds")
        object.__setattr__(self, "timeout_s", float(self.timeout_s))

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
        data = tomllib.loads(file.read_text(encoding="utf-8"))
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
    unknown = sorted(set(values) - {"base_url", "model", "server", "api_key_env", "context_length", "timeout_s"})
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
        name: {k: v for k, v in asdict(e).items() if k != "name" and v is not None} for name, e in sorted(remotes.items())
    }
    header = "# scribe's remote endpoints. API keys are never stored here: api_key_env names the variable holding one.\n"
    tmp = file.with_suffix(".toml.tmp")
    tmp.write_text(header + tomli_w.dumps({"remote": tables}), encoding="utf-8")
    os.replace(tmp, file)
    return file
