"""The backend interface every model family implements, and the records a stream yields.

A backend loads one model and streams a continuation of a text one `TokenStep` at a time. The stream ends with a
`StreamEnd`. Cancelling (setting the `threading.Event` passed to `stream`) stops it within one token.
Nothing here imports torch, TensorFlow or httpx; backends import them lazily when a model is loaded.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from scribe.sampling.params import SamplingParams


class EngineError(Exception):
    """A failure the user can act on (missing or corrupt model, out of memory, ...); the message says what and where."""


class ModelNotFound(EngineError):
    """No model answers to the given name or path."""


class ModelLoadError(EngineError):
    """The model exists but could not be loaded (corrupt, truncated, unsupported)."""


@dataclass(frozen=True)
class Alternative:
    """One candidate for a position: its probability before and after the sampling processors.

    `removed_by` names the processor that removed it from the final distribution (for example "top_k"), or None when it
    survived every processor.
    """

    token_id: int
    text: str
    raw_prob: float
    final_prob: float
    removed_by: str | None = None


@dataclass(frozen=True)
class TokenStep:
    """One generated token with what the model and the sampler thought of it."""

    index: int
    """Position in the continuation, from 0."""
    token_id: int
    text: str
    """The text this token adds to the continuation (may be empty while a multi-byte character is incomplete)."""
    raw_prob: float
    """Probability under the raw model distribution (softmax of the logits)."""
    final_prob: float
    """Probability under the final sampling distribution (after every processor)."""
    alternatives: tuple[Alternative, ...]
    """The top-k tokens of the raw distribution, most likely first."""
    elapsed_s: float
    """Seconds spent producing this token (model forward pass and sampling)."""


StopReason = Literal["max_tokens", "eos", "stop_string", "cancelled", "context_full", "error"]


@dataclass(frozen=True)
class StreamEnd:
    """How a stream ended and what it produced."""

    reason: StopReason
    text: str
    """The full continuation, with any stop string cut off."""
    tokens: int
    prompt_tokens: int
    elapsed_s: float
    """Seconds from the call to the end, prompt processing included."""
    first_token_s: float
    """Seconds from the call to the first token."""
    error: str | None = None

    @property
    def tokens_per_s(self) -> float:
        """Decode speed after the first token."""
        decode = self.elapsed_s - self.first_token_s
        return (self.tokens - 1) / decode if self.tokens > 1 and decode > 0 else 0.0


@dataclass(frozen=True)
class TokenScore:
    """How likely a model finds one token of a given text."""

    token_id: int
    text: str
    """The characters of the text this token covers (the pieces add up to the text scored)."""
    logprob: float
    """Natural log of the token's probability given the text before it (the first token: given the start token)."""


def prompt_budget(context_length: int, max_new_tokens: int) -> int:
    """The most prompt tokens a backend keeps: room for `max_new_tokens`, but never less than half the context."""
    return max(context_length - max_new_tokens, context_length // 2, 1)


@dataclass(frozen=True)
class ModelInfo:
    """What the status bar and the model list show about a loaded model."""

    name: str
    backend: str
    location: str
    device: str = "cpu"
    dtype: str = "float32"
    context_length: int = 1024
    vocab_size: int = 0
    parameters: int = 0
    extra: dict[str, str] = field(default_factory=dict)


SEARCH_SETTINGS = frozenset({"num_beams", "length_penalty", "early_stopping", "penalty_alpha"})
"""The settings of beam and contrastive search."""


class Backend(ABC):
    """A loaded model that can stream continuations. One instance serves one model; it is not thread-safe."""

    info: ModelInfo
    unsupported: frozenset[str] = frozenset()
    """Sampling settings this model cannot apply: the settings panel shows them as unavailable, and `ignored` names
    the ones a request sets, so nothing is dropped silently."""

    def ignored(self, params: SamplingParams) -> tuple[str, ...]:
        """Settings in `params` that differ from "off" (their defaults) but that this model cannot apply."""
        defaults = SamplingParams()
        return tuple(sorted(n for n in self.unsupported if getattr(params, n) != getattr(defaults, n)))

    @abstractmethod
    def stream(
        self,
        prompt: str,
        params: SamplingParams,
        *,
        alternatives: int = 5,
        cancel: threading.Event | None = None,
    ) -> Iterator[TokenStep | StreamEnd]:
        """Yield one TokenStep per generated token, then exactly one StreamEnd."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Number of tokens the model sees for this text."""

    def score(self, text: str) -> list[TokenScore]:
        """Each token of `text` with its log-probability under the model (backends that cannot: NotImplementedError)."""
        raise NotImplementedError(f"the {self.info.backend} backend cannot score text")

    def close(self) -> None:
        """Release memory held by the model."""
