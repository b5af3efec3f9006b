"""Looking inside a loaded model: one forward pass over a text that keeps the next-token logits at every position and,
where the model has attention, the attention weights of every layer and head.

`introspector(backend)` gives an `Introspector` for a loaded backend that supports `Capability.ANALYSE`, or raises
`IntrospectionUnavailable` with the backend's reason (a remote server returns sampled tokens only). The backend answers
through the analysis hooks of `Backend` (`encode_ids`, `token_text`, `analysis_pass`, `attention_shape`): the
transformers backend runs its model with eager attention, the Keras backend asks its worker
(`scribe.analysis.keras_pass.analysis_pass`); one that returns no attention (an LSTM) says why in `no_attention`.

The pass covers at most `window` tokens, cut from the left: the logits take tokens x vocabulary floats and the
attention layers x heads x tokens x tokens, so the window also shrinks until the attention fits `ATTENTION_BUDGET`.
Importing this module imports nothing heavy; the transformers introspector imports torch when it runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scribe.engine.base import Backend, Capability, EngineError

if TYPE_CHECKING:
    import torch

DEFAULT_WINDOW = 256
"""Most tokens one pass covers."""
ATTENTION_BUDGET = 16 * 1024 * 1024
"""Most attention weights (floats) one pass keeps: layers x heads x window x window."""


class IntrospectionUnavailable(EngineError):
    """This backend cannot show its distributions or attention; the message says why."""


@dataclass
class ForwardPass:
    """What one forward pass saw. `logits[i]` is the model's score of every token to follow token i."""

    model: str
    ids: list[int]
    texts: list[str]
    """Each token's text."""
    prompt_length: int
    """How many of `ids` are the writer's text; the rest is a generated continuation (penalties count those)."""
    offset: int
    """Tokens cut from the left of the text to fit the window."""
    logits: "torch.Tensor"
    """[tokens, vocab] float32 on the CPU."""
    attentions: "torch.Tensor | None"
    """[layers, heads, tokens, tokens] float32 on the CPU: row q holds token q's weights over tokens 0..q."""
    layer_names: list[str]
    no_attention: str | None
    """Why `attentions` is None."""
    decode: Callable[[int], str] = field(repr=False)
    """The text of any token id."""


class Introspector:
    """Runs analysis passes on one loaded model (not thread-safe: hold the backend's lock around `run`)."""

    name: str
    context: int
    """The model's context length in tokens."""
    layers: int = 0
    """Attention layers (0 when unknown: the window then leaves out the attention budget)."""
    heads: int = 0

    def encode(self, text: str) -> list[int]:
        """The token ids of `text`."""
        raise NotImplementedError

    def token_text(self, token_id: int) -> str:
        """The text of one token."""
        raise NotImplementedError

    def forward(self, ids: Sequence[int], *, attentions: bool) -> tuple[Any, Any, list[str], str | None]:
        """(logits, attentions or None, layer names, why no attention) as in `Backend.analysis_pass`."""
        raise NotImplementedError

    def window(self, limit: int = DEFAULT_WINDOW) -> int:
        """Most tokens one pass may cover under `limit`, the context length and the attention budget."""
        limit = min(limit, self.context)
        if self.layers and self.heads:
            limit = min(limit, math.isqrt(ATTENTION_BUDGET // (self.layers * self.heads)))
        return max(limit, 1)

    def run(self, ids: Sequence[int], *, prompt_length: int | None = None, attentions: bool = True,
            window: int = DEFAULT_WINDOW) -> ForwardPass:
        """A pass over the last `self.window(window)` of `ids` (prompt_length: how many of `ids` are prompt)."""
        import torch

        if not ids:
            raise ValueError("nothing to analyse: the text has no tokens")
        prompt_length = len(ids) if prompt_length is None else prompt_length
        offset = max(len(ids) - self.window(window), 0)
        kept = list(ids[offset:])
        logits, attention, names, reason = self.forward(kept, attentions=attentions)
        logits = torch.as_tensor(logits).float().cpu()
        attention = torch.as_tensor(attention).float().cpu() if attention is not None else None
        return ForwardPass(model=self.name, ids=kept, texts=[self.token_text(i) for i in kept],
                           prompt_length=max(prompt_length - offset, 0), offset=offset, logits=logits,
                           attentions=attention, layer_names=names,
                           no_attention=reason if attention is None else None, decode=self.token_text)


class BackendIntrospector(Introspector):
    """A backend with Capability.ANALYSE, through its `encode_ids`, `token_text` and `analysis_pass`."""

    def __init__(self, backend: Backend) -> None:
        self.name, self.context = backend.info.name, backend.info.context_length
        self.layers, self.heads = backend.attention_shape()
        self._backend = backend

    def encode(self, text: str) -> list[int]:
        return self._backend.encode_ids(text)

    def token_text(self, token_id: int) -> str:
        return self._backend.token_text(token_id)

    def forward(self, ids: Sequence[int], *, attentions: bool) -> tuple[Any, Any, list[str], str | None]:
        return self._backend.analysis_pass(ids, attentions=attentions)


def unavailable_reason(backend: Backend) -> str | None:
    """Why `backend` cannot be analysed, or None when it can (cheap: loads nothing)."""
    return None if backend.supports(Capability.ANALYSE) else backend.unavailable(Capability.ANALYSE)


def introspector(backend: Backend) -> Introspector:
    """The introspector for a loaded backend (IntrospectionUnavailable with the reason when there is none)."""
    reason = unavailable_reason(backend)
    if reason is not None:
        raise IntrospectionUnavailable(reason)
    return BackendIntrospector(backend)
