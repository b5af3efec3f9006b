"""Looking inside a loaded model: one forward pass over a text that keeps the next-token logits at every position and,
where the model has attention, the attention weights of every layer and head.

`introspector(backend)` gives an `Introspector` for a loaded backend, or raises `IntrospectionUnavailable` saying why
(a remote server returns sampled tokens only). Transformers models are read directly: the pass switches the model to
eager attention (the only implementation that returns its weights) and back. Other backends take part by
implementing the `SupportsAnalysis` hook (the Keras backend can answer it from its worker with
`scribe.analysis.keras_pass.analysis_pass`); one that returns no attention (an LSTM) says why in `no_attention`.

The pass covers at most `window` tokens, cut from the left: the logits take tokens x vocabulary floats and the
attention layers x heads x tokens x tokens, so the window also shrinks until the attention fits `ATTENTION_BUDGET`.
Importing this module imports nothing heavy; the transformers introspector imports torch when it runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from scribe.engine.base import Backend, EngineError

if TYPE_CHECKING:
    import torch

DEFAULT_WINDOW = 256
"""Most tokens one pass covers."""
ATTENTION_BUDGET = 16 * 1024 * 1024
"""Most attention weights (floats) one pass keeps: layers x heads x window x window."""


class IntrospectionUnavailable(EngineError):
    """This backend cannot show its distributions or attention; the message says why."""


@runtime_checkable
class SupportsAnalysis(Protocol):
    """The hook a backend implements to take part in analysis (the transformers backend is read directly)."""

    def encode_ids(self, text: str) -> list[int]:
        """The token ids the model sees for `text`."""

    def token_text(self, token_id: int) -> str:
        """The text of one token."""

    def analysis_pass(self, ids: Sequence[int], *, attentions: bool) -> tuple[Any, Any, list[str], str | None]:
        """One forward pass over `ids`: (logits [tokens, vocab] float32 array, attention weights [layers, heads,
        tokens, tokens] or None, a name per attention layer, why there is no attention or None)."""


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
        """(logits, attentions or None, layer names, why no attention) as in `SupportsAnalysis.analysis_pass`."""
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


class TransformersIntrospector(Introspector):
    """A Hugging Face causal LM loaded by the transformers backend."""

    def __init__(self, backend: Backend) -> None:
        self.name, self.context = backend.info.name, backend.info.context_length
        self._backend = backend
        self._model = backend._model  # type: ignore[attr-defined]  # the backend keeps these private
        self._tokenizer = backend._tokenizer  # type: ignore[attr-defined]
        config = self._model.config
        config = config.get_text_config() if hasattr(config, "get_text_config") else config
        self.layers = int(getattr(config, "num_hidden_layers", 0) or 0)
        self.heads = int(getattr(config, "num_attention_heads", 0) or 0)

    def encode(self, text: str) -> list[int]:
        return list(self._tokenizer(text)["input_ids"])

    def token_text(self, token_id: int) -> str:
        return self._backend._token_text(token_id)  # type: ignore[attr-defined]

    def forward(self, ids: Sequence[int], *, attentions: bool) -> tuple[Any, Any, list[str], str | None]:
        import torch

        model = self._model
        device = next(model.parameters()).device
        previous = getattr(model.config, "_attn_implementation", None)
        switch = attentions and previous != "eager" and hasattr(model, "set_attn_implementation")
        try:
            if switch:
                model.set_attn_implementation("eager")
            with torch.inference_mode():
                output = model(input_ids=torch.tensor([list(ids)], device=device), use_cache=False,
                               output_attentions=attentions)
        finally:
            if switch:
                model.set_attn_implementation(previous)
        logits = output.logits[0]
        found = tuple(output.attentions or ()) if attentions else ()
        if not found:
            reason = "attention not asked for" if not attentions else (
                f"{type(model).__name__} does not return attention weights")
            return logits, None, [], reason
        stacked = torch.stack([layer[0] for layer in found])
        return logits, stacked, [f"layer {i}" for i in range(len(found))], None


class HookIntrospector(Introspector):
    """A backend that implements `SupportsAnalysis`."""

    def __init__(self, backend: Backend) -> None:
        self.name, self.context = backend.info.name, backend.info.context_length
        self._backend: SupportsAnalysis = backend  # type: ignore[assignment]

    def encode(self, text: str) -> list[int]:
        return self._backend.encode_ids(text)

    def token_text(self, token_id: int) -> str:
        return self._backend.token_text(token_id)

    def forward(self, ids: Sequence[int], *, attentions: bool) -> tuple[Any, Any, list[str], str | None]:
        return self._backend.analysis_pass(ids, attentions=attentions)


def unavailable_reason(backend: Backend) -> str | None:
    """Why `backend` cannot be analysed, or None when it can (cheap: loads nothing)."""
    if backend.info.backend == "transformers" or isinstance(backend, SupportsAnalysis):
        return None
    if backend.info.backend == "remote":
        return (f"{backend.info.name} runs on a remote server, which sends back the sampled tokens only: "
                "no attention weights and no full next-token distributions")
    return f"{backend.info.name}: {backend.info.backend} models do not offer attention or next-token distributions yet"


def introspector(backend: Backend) -> Introspector:
    """The introspector for a loaded backend (IntrospectionUnavailable with the reason when there is none)."""
    reason = unavailable_reason(backend)
    if reason is not None:
        raise IntrospectionUnavailable(reason)
    if backend.info.backend == "transformers":
        return TransformersIntrospector(backend)
    return HookIntrospector(backend)
