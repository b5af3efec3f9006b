"""A backend for a model served elsewhere: llama.cpp's server, Ollama, vLLM, KoboldCpp or any OpenAI-compatible server,
each spoken in its own dialect (scribe/engine/remote/), over httpx.

Sampling settings map onto the server's own parameters; the ones it cannot apply are in `unsupported`, so the settings
panel shows them as unavailable instead of dropping them silently. The stream runs through the shared stream loop
(`scribe.engine.streaming.stream_loop`, fed the server's decoded pieces), so stop strings, timing, cancelling and the
one `StreamEnd` work as for every backend. Stop strings and the token limit hold whatever the server does: when a stop
string appears, or `max_new_tokens` tokens have arrived, the connection is closed. Token probabilities come from the
server when it sends them (as reported: `raw_prob == final_prob`); otherwise they are NaN (unknown). Remote tokens
have no ids (`token_id == -1`).

Nothing a server does can hang or crash a stream: a guard closes the connection when no text came for `timeout_s`
(keep-alive comments do not count), when the writer's `deadline_s` passes, or on cancel; every value is checked
(scribe/engine/remote/shapes.py); lines and events are bounded. Every failure ends the stream with
`StreamEnd(reason="error")`, a one-line message naming the endpoint, and the text received so far. The API key (read
from the environment variable the endpoint names) is sent only in the Authorization header and removed from every
message, whole or in part, before the message is shortened.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scribe.engine.base import Backend, Capability, ModelInfo, ModelLoadError, StopReason, StreamEnd, TokenStep
from scribe.engine.remote import dialect_for, wire
from scribe.engine.remote.dialect import Dialect, Finish
from scribe.engine.remote.secrets import one_line, redact
from scribe.engine.remote.shapes import Malformed
from scribe.engine.streaming import SampledPiece, StreamRun, stream_loop
from scribe.sampling.params import SamplingParams
from scribe.store.remotes import REMOTE_PREFIX, RemoteEndpoint, get_remote, remotes_file

_CHARS_PER_TOKEN = 4
_ERROR_BODY_BYTES = 64 * 1024
"""The most of an error answer read (the rest is dropped)."""
_EVENTS_AFTER_LIMIT = 16
_WAIT_AFTER_LIMIT_S = 1.0
"""After the token limit, up to this many more events are read, waiting at most this long, for the server's closing
report (the prompt's token count); then the connection is closed whatever comes."""
if TYPE_CHECKING:
    import httpx

BATCH_CHARS = 256_000
"""The most characters of texts counted in one request (a chapter of 100,000 words is a few requests)."""
_PARSE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError, RecursionError)


class RemoteBackend(Backend):
    """Streams continuations from a model server."""

    def __init__(self, endpoint: RemoteEndpoint, *, context_length: int | None = None) -> None:
        self.endpoint = endpoint
        self.dialect: Dialect = dialect_for(endpoint.server, chat=endpoint.chat)
        self._key = endpoint.api_key()
        if endpoint.api_key_env and self._key is None:
            raise ModelLoadError(
                f"remote {endpoint.name!r} takes its API key from ${endpoint.api_key_env}, which is not set"
            )
        self._client = _client(endpoint, self._key)
        self.unsupported: frozenset[str] = self.dialect.unsupported()
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
                "server": endpoint.server + (" (chat)" if endpoint.chat else ""),
                "endpoint": self.dialect.url(endpoint),
                "unsupported": ", ".join(sorted(self.unsupported)),
                "probabilities": self.dialect.probabilities,
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
        endpoint, context_length = probe(endpoint)
        return cls(endpoint, context_length=context_length)

    def request_body(self, prompt: str, params: SamplingParams, alternatives: int) -> dict[str, Any]:
        """The JSON body of the streaming request for these settings."""
        return self.dialect.body(self.endpoint, prompt, params, alternatives)

    def stream(
        self,
        prompt: str,
        params: SamplingParams,
        *,
        alternatives: int = 5,
        cancel: threading.Event | None = None,
    ) -> Iterator[TokenStep | StreamEnd]:
        """Yield a TokenStep per token the server sends, then one StreamEnd (errors included), through the shared stream
        loop: it releases the text (stop strings), times the tokens and checks `cancel`; `_Answer` makes the request,
        enforces the token limit and guards the connection."""
        return stream_loop(lambda run: _Answer(self, params, alternatives, run).pieces(prompt), decode=None,
                           stops=params.stop, cancel=cancel)

    def count_tokens(self, text: str) -> int:
        """Tokens as the server counts them where it can say; otherwise an estimate of one token per four characters."""
        import httpx

        try:
            counted = self.dialect.count_tokens(self._client, self.endpoint, text)
        except (httpx.HTTPError, Malformed, *_PARSE_ERRORS):
            counted = None
        return counted if counted is not None else math.ceil(len(text) / _CHARS_PER_TOKEN)

    def count_tokens_batch(self, texts: list[str]) -> list[int]:
        """`count_tokens` of each text: where the server counts many texts a request, in requests of up to
        `BATCH_CHARS` characters; the texts it cannot count so (and all, on other servers) one request each."""
        import httpx

        counts: list[int | None] = [None] * len(texts)
        for start, end in _groups(texts, BATCH_CHARS):
            try:
                many = self.dialect.count_tokens_many(self._client, self.endpoint, texts[start:end])
            except (httpx.HTTPError, Malformed, *_PARSE_ERRORS):
                many = None
            if many is None or len(many) != end - start:  # the server cannot: the rest one request each
                break
            counts[start:end] = many
        return [self.count_tokens(text) if count is None else count for text, count in zip(texts, counts)]

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def message(self, text: str) -> str:
        """A one-line message naming this endpoint, with the API key removed (before shortening)."""
        return one_line(redact(f"remote {self.endpoint.name!r}: {text}", self._key), 500)


def _groups(texts: list[str], chars: int) -> Iterator[tuple[int, int]]:
    """Consecutive slices of `texts` of at most `chars` characters (a longer text alone), as (start, end)."""
    start = 0
    while start < len(texts):
        end, size = start + 1, len(texts[start])
        while end < len(texts) and size + len(texts[end]) <= chars:
            size += len(texts[end])
            end += 1
        yield start, end
        start = end


def probe(endpoint: RemoteEndpoint) -> tuple[RemoteEndpoint, int | None]:
    """Ask the server which models it serves: the endpoint (with the model spelled as the server lists it) and the
    context length the server reports, if any. ModelLoadError when it cannot be reached or does not serve the model."""
    import httpx

    key = endpoint.api_key()
    dialect = dialect_for(endpoint.server, chat=endpoint.chat)

    def fail(text: str) -> ModelLoadError:
        return ModelLoadError(one_line(redact(f"remote {endpoint.name!r}: {text}", key), 500))

    with _client(endpoint, key, timeout_s=min(endpoint.timeout_s, 10.0)) as client:
        try:
            found = dialect.probe(client, endpoint)
        except httpx.HTTPStatusError as exc:
            raise fail(_http_error(exc.response, endpoint, key)) from None
        except httpx.HTTPError as exc:
            raise fail(f"cannot reach {endpoint.base_url} ({_reason(exc)}); is the server running?") from None
        except (Malformed, *_PARSE_ERRORS) as exc:
            raise fail(f"{endpoint.base_url} did not answer like a {endpoint.server} server ({exc}); "
                       "check the base URL and the server kind") from None
    served = found.model or endpoint.model
    if found.strict and found.models and served not in found.models:
        raise fail(f"the server serves {', '.join(found.models[:5])}, not {endpoint.model!r}; fix `model`")
    if served != endpoint.model:
        endpoint = dataclasses.replace(endpoint, model=served)
    return endpoint, found.context_length


def _client(endpoint: RemoteEndpoint, key: str | None, *, timeout_s: float | None = None) -> httpx.Client:
    import httpx

    headers = {"Accept-Encoding": "identity"}  # no compressed bodies: a line limit must bound the memory used
    if key:
        headers["Authorization"] = f"Bearer {key}"
    timeout_s = timeout_s or endpoint.timeout_s
    return httpx.Client(headers=headers, timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)))


class _Answer:
    """One streaming request, as the `produce` of the shared stream loop: the server's pieces of text up to the token
    limit, under the guard; it ends the stream itself (`run.reason`, `run.error`) when the answer ends or fails."""

    def __init__(self, backend: RemoteBackend, params: SamplingParams, alternatives: int, run: StreamRun):
        self.backend, self.params, self.alternatives, self.run = backend, params, alternatives, run
        self.endpoint, self.dialect = backend.endpoint, backend.dialect
        self.tokens = 0
        self.reason: StopReason | None = None
        self.finish: Finish | None = None
        self.done = self.capped = False
        deadline_s = self.endpoint.deadline_s
        self.guard = wire.Guard(run.cancel, self.endpoint.timeout_s,
                                None if deadline_s is None else time.monotonic() + deadline_s)

    def pieces(self, prompt: str) -> Iterator[SampledPiece]:
        """The answer's pieces; then the reason it ended, in `run` (an unexpected failure ends it as an error too)."""
        try:
            yield from self._request(prompt)
        except Exception as exc:  # a message naming the endpoint, the key removed, rather than the loop's own
            self._fail(f"{type(exc).__name__}: {exc}")
        self.run.reason = self.reason or "error"

    def _request(self, prompt: str) -> Iterator[SampledPiece]:
        import httpx

        url = self.dialect.url(self.endpoint)
        body = self.dialect.body(self.endpoint, prompt, self.params, self.alternatives)
        wait = self.endpoint.timeout_s if self.endpoint.deadline_s is None else min(self.endpoint.timeout_s,
                                                                                      self.endpoint.deadline_s)
        timeout = httpx.Timeout(wait, connect=min(wait, 10.0))
        try:
            with self.backend._client.stream("POST", url, json=body, timeout=timeout) as response:
                if response.status_code != 200:
                    self._fail(_http_error(response, self.endpoint, self.backend._key))
                    return
                self.guard.watch(response.extensions.get("network_stream"))
                try:
                    yield from self._read(response)
                finally:
                    self.guard.stop()
        except Malformed as exc:
            if not self._tripped():
                self._fail(f"the server sent an answer scribe cannot read ({exc}); the text so far is kept")
            return
        except httpx.ConnectError as exc:
            self._fail(f"cannot connect to {self.endpoint.base_url} ({_reason(exc)}); is the server running?")
            return
        except httpx.TimeoutException:
            if not self._tripped():
                self._fail(self._stalled())
            return
        except httpx.HTTPError as exc:
            if not self._tripped():
                self._fail(f"the connection to {self.endpoint.base_url} broke in the middle of the answer "
                           f"({type(exc).__name__}); the text so far is kept")
            return
        if self.reason is not None or self._tripped():
            return
        if self.capped:
            self.reason = "max_tokens"
        elif self.finish is not None:
            self.reason = self.finish
        elif self.done:
            self.reason = "max_tokens" if self.tokens >= self.params.max_new_tokens else "eos"
        else:
            self._fail(f"the answer from {self.endpoint.base_url} ended before it was complete (truncated stream); "
                       "the text so far is kept")

    def _read(self, response: httpx.Response) -> Iterator[SampledPiece]:
        """Pieces from the answer's events until it ends or the token limit is reached (the stream loop stops reading,
        which closes the connection, on a stop string or cancel)."""
        body_lines = wire.lines(response.iter_bytes())
        events = wire.sse_data(body_lines) if self.dialect.framing == "sse" else wire.ndjson(body_lines)
        after_limit = 0
        for data in events:
            if data == self.dialect.done_marker:
                self.done = True
                return
            try:
                event = self.dialect.event(wire.decode(data), self.alternatives)
            except _PARSE_ERRORS as exc:
                raise Malformed(f"{type(exc).__name__} reading an event") from None
            if event.error is not None:
                self._fail(f"the server reported an error: {event.error}")
                return
            if event.prompt_tokens is not None:
                self.run.prompt_tokens = event.prompt_tokens
            self.finish = event.finish or self.finish
            for piece in event.pieces if not self.capped else ():
                self.guard.fed()
                yield piece
                self.tokens += 1
                if self.tokens >= self.params.max_new_tokens:
                    self.capped = True
                    self.guard.stall_s = min(self.guard.stall_s, _WAIT_AFTER_LIMIT_S)
                    self.guard.fed()
                    break
            if event.last:
                self.done = True
                return
            if self.capped:
                after_limit += 1
                if after_limit > _EVENTS_AFTER_LIMIT:
                    return
            if self.guard.trip_now() and self._tripped():
                return

    def _tripped(self) -> bool:
        """Whether the guard ended the answer (cancel, stall, deadline); sets the reason when it did."""
        trip = self.guard.tripped
        if trip is None or self.reason is not None:
            return self.reason is not None
        if trip == "cancelled":
            self.reason = "cancelled"
        elif self.capped:  # the limit was reached; only the closing report was still awaited
            self.reason = "max_tokens"
        elif trip == "stalled":
            self._fail(self._stalled())
        else:
            self._fail(f"the answer took longer than the {self.endpoint.deadline_s:g} s deadline (deadline_s); "
                       "the text so far is kept")
        return True

    def _stalled(self) -> str:
        return (f"{self.endpoint.base_url} sent no text for {self.endpoint.timeout_s:g} s (timed out; timeout_s); "
                "the text so far is kept")

    def _fail(self, message: str) -> None:
        self.reason = "error"
        self.run.error = self.backend.message(message)


def _http_error(response: httpx.Response, endpoint: RemoteEndpoint, key: str | None) -> str:
    """A message for a non-200 answer, with the server's own explanation when it gives one (the key removed from it
    before it is shortened)."""
    import httpx

    from scribe.engine.remote.dialect import error_text

    raw = bytearray()
    try:
        for chunk in response.iter_bytes():
            raw += chunk
            if len(raw) >= _ERROR_BODY_BYTES:
                break
    except httpx.HTTPError:
        pass
    body = raw[:_ERROR_BODY_BYTES].decode("utf-8", "replace")
    try:
        data = wire.decode(body)
        detail = error_text(data.get("error", data.get("detail", body))) if isinstance(data, dict) else body
    except Malformed:
        detail = body
    detail = one_line(redact(detail, key), 300) or response.reason_phrase
    status = response.status_code
    hint = ""
    if status in (401, 403):
        hint = (f"; check the API key in ${endpoint.api_key_env}" if endpoint.api_key_env
                else "; the server wants an API key: set api_key_env for this remote")
    elif status == 404:
        hint = f"; check the base URL and the model name {endpoint.model!r}"
    elif status >= 500:
        hint = "; the server failed: see its log"
    return f"the server answered HTTP {status}: {detail}{hint}"


def _reason(exc: Exception) -> str:
    text = str(exc).lower()
    return "connection refused" if "refused" in text else type(exc).__name__
