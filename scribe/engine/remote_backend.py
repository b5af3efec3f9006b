"""A backend for a model served elsewhere: OpenAI-compatible `/v1/completions` with streaming, over httpx.

Sampling settings map onto the server's parameters according to the server kind (`RemoteEndpoint.server`); the ones it
cannot apply are in `unsupported`, so the settings panel can show them as unavailable instead of dropping them
silently. Stop strings are matched here, not by the server (so the end reason is exact and any number of them works):
when one appears the connection is closed. Token probabilities come from the server's `logprobs` when it sends them
(as reported, before and after sampling alike: `raw_prob == final_prob`); otherwise they are NaN. Remote tokens have no
ids (`token_id == -1`).

Every failure (connection refused, timeout, HTTP error, malformed or truncated stream) ends the stream with
`StreamEnd(reason="error")`, a message naming the endpoint, and the text received so far. The API key (read from the
environment variable the endpoint names) is sent only as a bearer token and is scrubbed from any message.
"""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from scribe.engine.base import Alternative, Backend, Capability, ModelInfo, ModelLoadError, StreamEnd, TokenStep
from scribe.engine.textstream import StopMatcher
from scribe.sampling.params import SamplingParams, parse_breakers
from scribe.store.remotes import REMOTE_PREFIX, RemoteEndpoint, get_remote, remotes_file

_STANDARD = {
    "temperature": "temperature",
    "top_p": "top_p",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
    "seed": "seed",
}
_MIROSTAT = {"mirostat_tau": "mirostat_tau", "mirostat_eta": "mirostat_eta"}
SERVER_PARAMETERS: dict[str, dict[str, str]] = {
    "openai": _STANDARD,
    "ollama": _STANDARD,
    "vllm": {**_STANDARD, "top_k": "top_k", "min_p": "min_p", "repetition_penalty": "repetition_penalty"},
    "llama.cpp": {
        **_STANDARD, "top_k": "top_k", "min_p": "min_p", "typical_p": "typical_p", "repetition_penalty": "repeat_penalty",
        "dry_multiplier": "dry_multiplier", "dry_base": "dry_base", "dry_allowed_length": "dry_allowed_length",
        "dry_sequence_breakers": "dry_sequence_breakers", "xtc_threshold": "xtc_threshold",
        "xtc_probability": "xtc_probability", **_MIROSTAT,
    },
    "llama-cpp-python": {
        **_STANDARD, "top_k": "top_k", "min_p": "min_p", "repetition_penalty": "repeat_penalty", **_MIROSTAT,
    },
}
"""Server kind -> scribe sampling setting -> the request field that carries it. Settings a kind supports are always
sent, so the server's own defaults (llama.cpp's top_k 40 and repeat_penalty 1.1, say) never apply behind the writer's
back. max_new_tokens is always sent as max_tokens; stop strings are handled here."""

_MIROSTAT_MODE = {"llama.cpp": "mirostat", "llama-cpp-python": "mirostat_mode"}
"""The field that switches mirostat on (2: version 2, what scribe's mirostat_tau > 0 means) or off (0)."""
_HANDLED_HERE = ("max_new_tokens", "stop")
_MAX_LOGPROBS = {"openai": 5, "vllm": 20, "llama.cpp": 20, "llama-cpp-python": 20, "ollama": 0}
_TOKENIZE = {"vllm": "/tokenize", "llama.cpp": "/tokenize", "llama-cpp-python": "/extras/tokenize"}
_CHARS_PER_TOKEN = 4
_REDACTED = "[redacted]"


class RemoteBackend(Backend):
    """Streams continuations from an OpenAI-compatible server."""

    def __init__(self, endpoint: RemoteEndpoint, *, context_length: int | None = None) -> None:
        self.endpoint = endpoint
        self._key = endpoint.api_key()
        if endpoint.api_key_env and self._key is None:
            raise ModelLoadError(
                f"remote {endpoint.name!r} takes its API key from ${endpoint.api_key_env}, which is not set"
            )
        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        self._client = httpx.Client(
            headers=headers, timeout=httpx.Timeout(endpoint.timeout_s, connect=min(endpoint.timeout_s, 10.0))
        )
        self.unsupported: frozenset[str] = unsupported_settings(endpoint.server)
        """Sampling settings this server cannot apply (shown as unavailable in the settings panel)."""
        self.info = ModelInfo(
            name=f"remote:{endpoint.name}",
            backend="remote",
            location=endpoint.base_url,
            device="remote",
            dtype="-",
            context_length=endpoint.context_length or context_length or 0,
            extra={
                "model": endpoint.model,
                "server": endpoint.server,
                "unsupported": ", ".join(sorted(self.unsupported)),
                "probabilities": "from the server's logprobs (NaN when it sends none)",
            },
        )

    @classmethod
    def locate(cls, name: str) -> Path | None:
        """remotes.toml for a "remote:NAME" that is configured there (ModelNotFound naming the file when not)."""
        if not name.startswith(REMOTE_PREFIX):
            return None
        get_remote(name)
        return remotes_file()

    def unavailable(self, capability: Capability | str) -> str:
        """A server sends back sampled tokens only."""
        return (f"{self.info.name} runs on a remote server, which sends back the sampled tokens only: no attention "
                "weights, no full next-token distributions and no scoring")

    @classmethod
    def load(cls, path: Path | str = "", *, name: str, **_: Any) -> "RemoteBackend":
        """The backend for the configured endpoint `name` ("remote:NAME"), after asking the server for its models.

        Raises ModelNotFound when no such endpoint is configured and ModelLoadError when the server cannot be reached
        or does not serve the model. The other registry arguments (device, dtype, ...) mean nothing for a remote.
        """
        endpoint = get_remote(name)
        context_length = _probe(endpoint)
        return cls(endpoint, context_length=context_length)

    def request_body(self, prompt: str, params: SamplingParams, alternatives: int) -> dict[str, Any]:
        """The JSON body of the completion request for these settings."""
        body: dict[str, Any] = {
            "model": self.endpoint.model,
            "prompt": prompt,
            "max_tokens": params.max_new_tokens,
            "stream": True,
        }
        for setting, field in SERVER_PARAMETERS[self.endpoint.server].items():
            value = getattr(params, setting)
            if value is None:
                continue
            if setting == "top_k" and value == 0 and self.endpoint.server == "vllm":
                value = -1  # vLLM's "off"
            elif setting == "dry_sequence_breakers":
                value = list(parse_breakers(value))
            body[field] = value
        if self.endpoint.server in _MIROSTAT_MODE:
            body[_MIROSTAT_MODE[self.endpoint.server]] = 2 if params.mirostat_tau > 0 else 0
        cap = _MAX_LOGPROBS[self.endpoint.server]
        if cap:
            body["logprobs"] = max(1, min(alternatives, cap))
        if self.endpoint.server in ("openai", "vllm"):
            body["stream_options"] = {"include_usage": True}
        return body

    def stream(
        self,
        prompt: str,
        params: SamplingParams,
        *,
        alternatives: int = 5,
        cancel: threading.Event | None = None,
    ) -> Iterator[TokenStep | StreamEnd]:
        """Yield a TokenStep per token the server sends, then one StreamEnd (errors included)."""
        run = _Run(self, params, alternatives, cancel or threading.Event())
        yield from run.steps(prompt)
        yield run.end()

    def count_tokens(self, text: str) -> int:
        """Tokens as the server counts them where it can say (vLLM, llama.cpp); otherwise an estimate of one token per
        four characters."""
        path = _TOKENIZE.get(self.endpoint.server)
        if path is not None:
            body = {"content": text} if self.endpoint.server == "llama.cpp" else {"model": self.endpoint.model}
            if self.endpoint.server != "llama.cpp":
                body["prompt" if self.endpoint.server == "vllm" else "input"] = text
            try:
                response = self._client.post(self.endpoint.server_root + path, json=body)
                if response.status_code == 200:
                    data = response.json()
                    return int(data["count"]) if "count" in data else len(data["tokens"])
            except (httpx.HTTPError, ValueError, KeyError, TypeError):
                pass
        return math.ceil(len(text) / _CHARS_PER_TOKEN)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _scrub(self, text: str) -> str:
        """`text` with the API key (if any) removed."""
        return text.replace(self._key, _REDACTED) if self._key else text


def unsupported_settings(server: str) -> frozenset[str]:
    """Sampling settings a server kind cannot apply."""
    import dataclasses

    names = {f.name for f in dataclasses.fields(SamplingParams)}
    return frozenset(names - set(SERVER_PARAMETERS[server]) - set(_HANDLED_HERE))


class _Run:
    """The state of one streaming request."""

    def __init__(self, backend: RemoteBackend, params: SamplingParams, alternatives: int, cancel: threading.Event):
        self.backend, self.params, self.alternatives, self.cancel = backend, params, alternatives, cancel
        self.endpoint = backend.endpoint
        self.matcher = StopMatcher(params.stop)
        self.text = ""
        self.tokens = self.prompt_tokens = 0
        self.reason: str | None = None
        self.error: str | None = None
        self.start = self.last = time.perf_counter()
        self.first_token_s = 0.0

    def steps(self, prompt: str) -> Iterator[TokenStep]:
        url = self.endpoint.api_root + "/completions"
        body = self.backend.request_body(prompt, self.params, self.alternatives)
        finish: str | None = None
        done = False
        try:
            with self.backend._client.stream("POST", url, json=body) as response:
                if response.status_code != 200:
                    self._fail(_http_error(response, self.endpoint))
                    return
                with _CloseOnCancel(self.cancel, response):
                    for data in _sse_data(response.iter_lines()):
                        if data == "[DONE]":
                            done = True
                            break
                        chunk = _parse_chunk(data)
                        if "error" in chunk:
                            self._fail(f"the server reported an error: {_error_text(chunk['error'])}")
                            return
                        if isinstance(chunk.get("usage"), dict):
                            self.prompt_tokens = int(chunk["usage"].get("prompt_tokens") or 0)
                        for choice in chunk.get("choices") or ():
                            for text, prob, alts in _pieces(choice, self.alternatives):
                                yield self._step(text, prob, alts)
                                if self.matcher.stopped:
                                    self.reason = "stop_string"
                                    return  # leaving the `with` closes the connection
                            finish = choice.get("finish_reason") or finish
                        if self.cancel.is_set():
                            self.reason = "cancelled"
                            return
        except _MalformedStream as exc:
            self._fail(f"the server sent a malformed event ({exc}); the text so far is kept")
            return
        except httpx.ConnectError as exc:
            self._fail(f"cannot connect to {self.endpoint.base_url} ({_reason(exc)}); is the server running?")
            return
        except httpx.TimeoutException:
            self._fail(f"{self.endpoint.base_url} sent nothing for {self.endpoint.timeout_s:g} s (timed out)")
            return
        except httpx.HTTPError as exc:
            if self.cancel.is_set():
                self.reason = "cancelled"
            else:
                self._fail(f"the connection to {self.endpoint.base_url} broke in the middle of the answer "
                           f"({type(exc).__name__}); the text so far is kept")
            return
        if self.cancel.is_set():
            self.reason = "cancelled"
        elif finish == "length":
            self.reason = "max_tokens"
        elif finish is not None:
            self.reason = "eos"
        elif done:
            self.reason = "max_tokens" if self.tokens >= self.params.max_new_tokens else "eos"
        else:
            self._fail(f"the answer from {self.endpoint.base_url} ended before it was complete (truncated stream); "
                       "the text so far is kept")

    def end(self) -> StreamEnd:
        self.text += self.matcher.flush()
        return StreamEnd(
            reason=self.reason or "error",  # type: ignore[arg-type]
            text=self.text,
            tokens=self.tokens,
            prompt_tokens=self.prompt_tokens,
            elapsed_s=time.perf_counter() - self.start,
            first_token_s=self.first_token_s,
            error=self.error,
        )

    def _step(self, text: str, prob: float, alts: tuple[Alternative, ...]) -> TokenStep:
        now = time.perf_counter()
        if self.tokens == 0:
            self.first_token_s = now - self.start
        released = self.matcher.push(text)
        self.text += released
        step = TokenStep(self.tokens, -1, released, prob, prob, alts, now - self.last)
        self.tokens += 1
        self.last = now
        return step

    def _fail(self, message: str) -> None:
        self.reason = "error"
        self.error = self.backend._scrub(f"remote {self.endpoint.name!r}: {message}")


class _MalformedStream(Exception):
    """An event that is not the JSON of a completion chunk."""


class _CloseOnCancel:
    """While active, shut the response's socket down as soon as `cancel` is set, so a read blocked on a stalled server
    returns at once and the server sees the connection close."""

    def __init__(self, cancel: threading.Event, response: httpx.Response) -> None:
        self.cancel, self.response = cancel, response
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="remote-cancel", daemon=True)

    def __enter__(self) -> "_CloseOnCancel":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()

    def _watch(self) -> None:
        while not self._done.wait(0.05):
            if self.cancel.is_set():
                stream = self.response.extensions.get("network_stream")
                sock = stream.get_extra_info("socket") if stream is not None else None
                if sock is not None:
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                return


def _sse_data(lines: Iterator[str]) -> Iterator[str]:
    """The data of each server-sent event (multi-line data joined; comments and other fields skipped)."""
    buffer: list[str] = []
    for line in lines:
        if not line:
            if buffer:
                yield "\n".join(buffer)
                buffer = []
        elif line.startswith("data:"):
            buffer.append(line[5:].removeprefix(" "))
    if buffer:
        yield "\n".join(buffer)


def _parse_chunk(data: str) -> dict[str, Any]:
    try:
        chunk = json.loads(data)
    except ValueError:
        raise _MalformedStream(f"not JSON: {data[:60]!r}") from None
    if not isinstance(chunk, dict):
        raise _MalformedStream(f"not a JSON object: {data[:60]!r}")
    return chunk


def _pieces(choice: dict[str, Any], alternatives: int) -> list[tuple[str, float, tuple[Alternative, ...]]]:
    """(text, probability, alternatives) per token of one streamed choice, from its logprobs when present."""
    text = choice.get("text")
    if not isinstance(text, str):
        raise _MalformedStream("a choice without text")
    logprobs = choice.get("logprobs")
    tokens = logprobs.get("tokens") if isinstance(logprobs, dict) else None
    if not tokens:
        return [(text, math.nan, ())] if text else []
    token_lps = logprobs.get("token_logprobs") or []
    tops = logprobs.get("top_logprobs") or []

    def prob(i: int) -> float:
        lp = token_lps[i] if i < len(token_lps) else None
        return math.exp(lp) if isinstance(lp, (int, float)) else math.nan

    def alts(i: int) -> tuple[Alternative, ...]:
        top = tops[i] if i < len(tops) and isinstance(tops[i], dict) else {}
        ranked = sorted(((str(t), lp) for t, lp in top.items() if isinstance(lp, (int, float))), key=lambda x: -x[1])
        return tuple(Alternative(-1, t, math.exp(lp), math.exp(lp)) for t, lp in ranked[:alternatives])

    if len(tokens) > 1 and "".join(map(str, tokens)) == text:
        return [(str(tok), prob(i), alts(i)) for i, tok in enumerate(tokens)]
    return [(text, math.prod(prob(i) for i in range(len(tokens))), alts(0))]


def _http_error(response: httpx.Response, endpoint: RemoteEndpoint) -> str:
    """A message for a non-200 answer, with the server's own explanation when it gives one."""
    response.read()
    try:
        detail = _error_text(response.json().get("error", response.text))
    except ValueError:
        detail = response.text
    detail = " ".join(detail.split())[:300] or response.reason_phrase
    status = response.status_code
    hint = ""
    if status in (401, 403):
        hint = (f"; check the API key in ${endpoint.api_key_env}" if endpoint.api_key_env
                else "; the server wants an API key: set api_key_env for this remote")
    elif status == 404:
        hint = f"; check the base URL ({endpoint.api_root}/completions) and the model name {endpoint.model!r}"
    elif status >= 500:
        hint = "; the server failed: see its log"
    return f"the server answered HTTP {status}: {detail}{hint}"


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)


def _reason(exc: Exception) -> str:
    text = str(exc).lower()
    return "connection refused" if "refused" in text else type(exc).__name__


def _probe(endpoint: RemoteEndpoint) -> int | None:
    """Ask the server which models it serves; return the context length it reports, if any."""
    headers = {"Authorization": f"Bearer {key}"} if (key := endpoint.api_key()) else {}
    url = endpoint.api_root + "/models"
    try:
        response = httpx.get(url, headers=headers, timeout=min(endpoint.timeout_s, 10.0))
    except httpx.HTTPError as exc:
        raise ModelLoadError(
            f"remote {endpoint.name!r}: cannot reach {endpoint.base_url} ({_reason(exc)}); is the server running?"
        ) from None
    if response.status_code != 200:
        message = _http_error(response, endpoint)
        raise ModelLoadError(f"remote {endpoint.name!r}: {message.replace(key, _REDACTED) if key else message}")
    try:
        models = [m for m in response.json().get("data", []) if isinstance(m, dict)]
    except (ValueError, AttributeError):
        raise ModelLoadError(f"remote {endpoint.name!r}: {url} did not answer with a model list") from None
    ids = [str(m.get("id")) for m in models]
    if ids and endpoint.model not in ids:
        raise ModelLoadError(
            f"remote {endpoint.name!r}: the server serves {', '.join(ids[:5])}, not {endpoint.model!r}; fix `model`"
        )
    for m in models:
        if m.get("id") == endpoint.model:
            for key_name in ("max_model_len", "context_length", "n_ctx"):
                value = m.get(key_name) or (m.get("meta") or {}).get(key_name)
                if isinstance(value, int) and value > 0:
                    return value
    return None

