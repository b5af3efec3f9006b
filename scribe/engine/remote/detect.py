"""Telling the kind of a server from its answers, and what a configured remote can do, for `scribe models add-remote`
and `scribe models info`.

Each kind is recognised by a route only it has: KoboldCpp's `/api/extra/version` says "KoboldCpp", Ollama answers
`/api/version` and `/api/tags`, llama.cpp's `/props` has `default_generation_settings`, vLLM and llama.cpp sign their
`/v1/models` entries (`owned_by`), llama-cpp-python answers `/extras/tokenize`; any other server with `/v1/models` is
taken as plain OpenAI-compatible.
"""

from __future__ import annotations

from typing import Any

from scribe.engine.remote import dialect_for
from scribe.store.remotes import RemoteEndpoint


class NoServer(Exception):
    """Nothing at the URL answers like a model server."""


def detect_server(base_url: str, key: str | None = None, timeout_s: float = 5.0) -> str:
    """The server kind (one of scribe.store.remotes.SERVERS) at `base_url`; NoServer when none answers."""
    import httpx

    root = base_url.strip().rstrip("/").removesuffix("/v1")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(headers=headers, timeout=timeout_s) as client:

        def answer(method: str, path: str, **kwargs: Any) -> dict[str, Any] | None:
            try:
                response = client.request(method, root + path, **kwargs)
                data = response.json() if response.status_code == 200 else None
            except (httpx.HTTPError, ValueError):
                return None
            return data if isinstance(data, dict) else None

        if (answer("GET", "/api/extra/version") or {}).get("result") == "KoboldCpp":
            return "koboldcpp"
        if "version" in (answer("GET", "/api/version") or {}) and "models" in (answer("GET", "/api/tags") or {}):
            return "ollama"
        if "default_generation_settings" in (answer("GET", "/props") or {}):
            return "llama.cpp"
        models = answer("GET", "/v1/models")
        if models is None or not isinstance(models.get("data"), list):
            raise NoServer(f"nothing at {root} answers like a model server (tried KoboldCpp, Ollama, llama.cpp and "
                           "OpenAI-compatible routes); check the URL, or give --server")
        owners = {m.get("owned_by") for m in models["data"] if isinstance(m, dict)}
        if "vllm" in owners:
            return "vllm"
        if "llamacpp" in owners:
            return "llama.cpp"
        if answer("POST", "/extras/tokenize", json={"input": "a"}) is not None:
            return "llama-cpp-python"
        return "openai"


def capabilities(endpoint: RemoteEndpoint) -> dict[str, str]:
    """What a configured remote can do, as `scribe models info` shows it (asks the server nothing)."""
    dialect = dialect_for(endpoint.server, chat=endpoint.chat)
    unsupported = dialect.unsupported()
    return {
        "server": endpoint.server + (" (chat)" if endpoint.chat else ""),
        "model on the server": endpoint.model,
        "endpoint": dialect.url(endpoint),
        "applies": ", ".join(sorted(dialect.parameters)) + ", max_new_tokens, stop (the last two in scribe)",
        "cannot apply": ", ".join(sorted(unsupported)) or "-",
        "probabilities": dialect.probabilities,
        "bans": ", ".join(repr(p) for p in endpoint.banned_phrases) or "-",
        "gives up after": f"{endpoint.timeout_s:g} s without text"
        + (f", or {endpoint.deadline_s:g} s in all" if endpoint.deadline_s else ""),
        "API key": f"from ${endpoint.api_key_env}" if endpoint.api_key_env else "none",
    }
