"""The contract of a server dialect: how to ask for a continuation, how to read each event of the answer, where the
model list and the token counter are.

A dialect is stateless and does no I/O except in `probe` and `count_tokens`, which get the HTTP client; the backend
(scribe/engine/remote_backend.py) owns the connection, the guard and the stream's contract.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from scribe.engine.base import Alternative
from scribe.engine.remote import shapes
from scribe.engine.streaming import SampledPiece
from scribe.sampling.params import SamplingParams, parse_breakers

if TYPE_CHECKING:
    import httpx

    from scribe.store.remotes import RemoteEndpoint

Finish = Literal["max_tokens", "eos", "stop_string"]
HANDLED_HERE = ("max_new_tokens", "stop")
"""Settings every dialect honours on the client side: the token limit and the stop strings."""


@dataclass
class Event:
    """What one event of an answer says."""

    pieces: list[SampledPiece] = field(default_factory=list)
    """The tokens of text it carries, with their probabilities (NaN when the server gives none) and alternatives."""
    finish: Finish | None = None
    """Why the server ended the answer, when this event ends it."""
    last: bool = False
    """True for the event after which nothing more is expected ("[DONE]", `done: true`, `stop: true`)."""
    prompt_tokens: int | None = None
    error: str | None = None
    """The server's own error report, sent in the stream."""


@dataclass(frozen=True)
class Probe:
    """What the server said about its models."""

    models: tuple[str, ...]
    """The model names it serves (empty when it does not say)."""
    context_length: int | None = None
    model: str | None = None
    """The name to send for the configured model, when the server spells it differently (`qwen2.5` -> `qwen2.5:latest`)."""
    strict: bool = True
    """False when the server serves one model whatever name a request gives (KoboldCpp)."""


class Dialect(ABC):
    """One server kind's wire format."""

    kind: str
    framing: Literal["sse", "ndjson"] = "sse"
    done_marker: str | None = None
    """An event data that ends the answer without being JSON (OpenAI's "[DONE]")."""
    parameters: dict[str, str]
    """scribe sampling setting -> the request field that carries it. Settings a dialect supports are always sent, so
    the server's own defaults (llama.cpp's top_k 40, say) never apply behind the writer's back."""
    max_alternatives: int = 0
    """The most alternatives the server reports per token (0: it reports no probabilities)."""
    probabilities: str = "not sent by this server (shown as unknown)"
    """How token probabilities are obtained, for `scribe models info`."""

    @abstractmethod
    def url(self, endpoint: RemoteEndpoint) -> str:
        """Where the streaming request goes."""

    @abstractmethod
    def body(self, endpoint: RemoteEndpoint, prompt: str, params: SamplingParams, alternatives: int) -> dict[str, Any]:
        """The JSON body of the streaming request."""

    @abstractmethod
    def event(self, data: Any, alternatives: int) -> Event:
        """Read one event's JSON value; shapes.Malformed when it is not what the server documents."""

    @abstractmethod
    def probe(self, client: httpx.Client, endpoint: RemoteEndpoint) -> Probe:
        """Ask the server which models it serves (httpx errors and shapes.Malformed propagate)."""

    def count_tokens(self, client: httpx.Client, endpoint: RemoteEndpoint, text: str) -> int | None:
        """The server's own count of the tokens in `text`, or None when it cannot say."""
        return None

    def count_tokens_many(self, client: httpx.Client, endpoint: RemoteEndpoint,
                          texts: list[str]) -> list[int | None] | None:
        """The server's counts of many texts from one request where it can (None for a text it cannot count so: it is
        asked alone), or None when the server counts one text a request."""
        return None

    def unsupported(self) -> frozenset[str]:
        """Sampling settings this dialect cannot apply."""
        names = {f.name for f in dataclasses.fields(SamplingParams)}
        return frozenset(names - set(self.parameters) - set(HANDLED_HERE))

    def sampling_fields(self, params: SamplingParams) -> dict[str, Any]:
        """The request fields for the settings this dialect applies (seed only when set)."""
        fields: dict[str, Any] = {}
        for setting, name in self.parameters.items():
            value = getattr(params, setting)
            if value is None:
                continue
            fields[name] = list(parse_breakers(value)) if setting == "dry_sequence_breakers" else value
        return fields


def error_text(value: Any) -> str:
    """The message of an error a server reports, whatever its shape (`"..."`, `{"message": ...}`, ...)."""
    if isinstance(value, dict):
        message = value.get("message")
        return message if isinstance(message, str) else shapes.describe(value)
    return value if isinstance(value, str) else shapes.describe(value)


def split_pieces(chunk_text: str, tokens: list[tuple[str, float, tuple[Alternative, ...]]]) -> list[SampledPiece]:
    """The pieces of one event: one per reported token when the tokens spell the event's text exactly; otherwise one
    piece for the whole text (the tokens' probabilities multiplied, the first token's alternatives)."""
    if not tokens:
        return [SampledPiece(chunk_text, math.nan)] if chunk_text else []
    if "".join(t for t, _, _ in tokens) == chunk_text:
        return [SampledPiece(t, p, alts) for t, p, alts in tokens]
    return [SampledPiece(chunk_text, math.prod(p for _, p, _ in tokens), tokens[0][2])]


def logprob_content(items: list[Any], alternatives: int, where: str) -> list[tuple[str, float, tuple[Alternative, ...]]]:
    """Tokens from the current OpenAI-style shape, a list of `{token, logprob, top_logprobs: [{token, logprob}]}` (OpenAI
    chat, llama.cpp's server, Ollama)."""
    tokens = []
    for i, item in enumerate(items):
        entry = shapes.obj(item, f"{where}[{i}]")
        token, lp, tops = entry.get("token"), entry.get("logprob"), entry.get("top_logprobs")
        if type(token) is not str or type(lp) is not float or not -math.inf < lp <= 0.0 or type(tops) is not list:
            # not the common case: the helpers check it and name what is wrong
            token = shapes.text(token, f"{where}[{i}].token")
            lp = shapes.logprob(lp, f"{where}[{i}].logprob")
            tops = shapes.opt_array(tops, f"{where}[{i}].top_logprobs")
        tokens.append((token, math.exp(lp), shapes.alternatives(tops, alternatives, f"{where}[{i}].top_logprobs")))
    return tokens
