"""Beam search and contrastive search (`scribe.sampling.search`) for the transformers backend.

`TransformersModelStep` is the search's `ModelStep` over the model's own forward pass and transformers' cache
(reordered with the cache's `reorder_cache`, which also turns one cached row into several). `searched` is the token
chooser `TransformersBackend.stream` uses when the settings ask for a search: its results are released through the
same loop as sampled ones (stop strings, the end token, cancelling). Beam search releases tokens only when every beam
that can still win agrees on them, so they arrive in bursts (the rest when the search ends). The search always runs
transformers' forward pass in the model's own weights (not scribe's GPT-2 decode step, nor its int8 copy).
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch

from scribe.sampling.params import SamplingParams
from scribe.sampling.sampler import SampleResult
from scribe.sampling.search import search

if TYPE_CHECKING:
    from scribe.engine.transformers_backend import Ending, TransformersBackend


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


def searched(
    backend: "TransformersBackend",
    ids: list[int],
    params: SamplingParams,
    alternatives: int,
    cancel: threading.Event | None,
    ending: "Ending",
) -> Iterator[SampleResult]:
    """A `Chooser` (see `TransformersBackend.stream`) that runs the search `params.search` asks for."""
    room = backend.info.context_length - len(ids)
    results = search(
        TransformersModelStep(backend._model),
        torch.tensor(ids, dtype=torch.long, device=backend._device),
        params,
        max_new_tokens=min(params.max_new_tokens, room),
        eos_ids=backend._eos,
        alternatives=alternatives,
        decode=backend._token_text,
        cancelled=lambda: cancel is not None and cancel.is_set(),
    )
    released = 0
    for result in results:
        released += 1
        yield result
    if cancel is not None and cancel.is_set():
        ending.reason = "cancelled"
    elif released == room < params.max_new_tokens:
        ending.reason = "context_full"
