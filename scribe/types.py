"""The records every backend streams and the errors every layer may raise: a leaf module that imports nothing of scribe.

A stream yields one `TokenStep` per token and ends with exactly one `StreamEnd`. The sampler builds `Alternative`s,
the lens reads `TokenScore`s, the status bar shows `ModelInfo`; errors derive from `EngineError`, whose message says
what failed and where.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


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
