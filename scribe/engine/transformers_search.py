"""Beam search and contrastive search (`scribe.sampling.search`) for the transformers backend.

`TransformersModelStep` is the search's `ModelStep` over the model's own forward pass and transformers' cache
(reordered with the cache's `reorder_cache`, which also turns one cached row into several). `stream` is what
`TransformersBackend.stream` yields when the settings ask for a search: the same TokenSteps and StreamEnd as sampling,
with stop strings, the end token and cancelling handled the same way. Beam search releases tokens only when every
beam that can still win agrees on them, so they arrive in bursts (the rest when the search ends); each TokenStep's
`elapsed_s` is the time since the previous token was released. The search always runs transformers' forward pass in
the model's own weights (not scribe's GPT-2 decode step, nor its int8 copy).
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch

from scribe.engine.base import StopReason, StreamEnd, TokenStep
from scribe.engine.textstream import TextStream
from scribe.engine.transformers_backend import _one_line
from scribe.sampling.params import SamplingParams
from scribe.sampling.search import search

if TYPE_CHECKING:
    from scribe.engine.transformers_backend import TransformersBackend


class TransformersModelStep:
    """A `scribe.sampling.search.ModelStep` for a Hugging Face causal LM."""

    def __init__(self, model: torch.nn.Module) -> None:
        self._model = model
        self._kwargs: dict[str, object] = {"use_cache": True}
        if "logits_to_keep" in inspect.signature(model.forward).parameters:
            self._kwargs["logits_to_keep"] = 1

    def __call__(
        self, input_ids: torch.Tensor, cache: object | None, beam_indices: torch.Tensor | None, hidden: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None, object]:
        """See `ModelStep`."""
        if cache is not None and beam_indices is not None:
            cache.reorder_cache(beam_indices)  # type: ignore[attr-defined]
        output = self._model(input_ids=input_ids, past_key_values=cache, output_hidden_states=hidden, **self._kwargs)
        states = output.hidden_states[-1].float() if hidden else None
        return output.logits[:, -1].float(), states, output.past_key_values


def stream(
    backend: "TransformersBackend",
    prompt: str,
    params: SamplingParams,
    *,
    alternatives: int = 5,
    cancel: threading.Event | None = None,
) -> Iterator[TokenStep | StreamEnd]:
    """Continue `prompt` with the search `params` asks for (`params.search`), as `TransformersBackend.stream` does."""
    start = last = time.perf_counter()
    text = TextStream(backend._decode, params.stop)
    reason: StopReason = "max_tokens"
    error: str | None = None
    tokens = prompt_tokens = 0
    first_token_s = 0.0
    try:
        if alternatives < 0:
            raise ValueError(f"alternatives must be 0 or more, got {alternatives}")
        ids = backend._prompt_ids(prompt, params.max_new_tokens)
        prompt_tokens = len(ids)
        room = backend.info.context_length - prompt_tokens
        prompt_ids = torch.tensor(ids, dtype=torch.long, device=backend._device)
        with torch.inference_mode():
            results = search(
                TransformersModelStep(backend._model),
                prompt_ids,
                params,
                max_new_tokens=min(params.max_new_tokens, room),
                eos_ids=backend._eos,
                alternatives=alternatives,
                decode=backend._token_text,
                cancelled=lambda: cancel is not None and cancel.is_set(),
            )
            for index, result in enumerate(results):
                if result.token_id in backend._eos:
                    reason = "eos"
                    break
                piece = text.push(result.token_id)
                now = time.perf_counter()
                if index == 0:
                    first_token_s = now - start
                tokens = index + 1
                yield TokenStep(
                    index=index,
                    token_id=result.token_id,
                    text=piece,
                    raw_prob=result.raw_prob,
                    final_prob=result.final_prob,
                    alternatives=result.alternatives,
                    elapsed_s=now - last,
                )
                last = now
                if text.stopped:
                    reason = "stop_string"
                    break
            else:
                if cancel is not None and cancel.is_set():
                    reason = "cancelled"
                elif tokens == room < params.max_new_tokens:
                    reason = "context_full"
        text.finish()
    except Exception as exc:  # the stream's contract: end with StreamEnd(reason="error"), never raise
        reason, error = "error", f"{type(exc).__name__}: {_one_line(exc)}"
    yield StreamEnd(
        reason=reason,
        text=text.text,
        tokens=tokens,
        prompt_tokens=prompt_tokens,
        elapsed_s=time.perf_counter() - start,
        first_token_s=first_token_s,
        error=error,
    )
