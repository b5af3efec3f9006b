"""Beam search and contrastive search (`scribe.sampling.search`) for the transformers backend.

`TransformersModelStep` is the search's `ModelStep` over the model's own forward pass and transformers' cache
(reordered with the cache's `reorder_cache`, which also turns one cached row into several). `searched` is what
`TransformersBackend.stream` feeds the shared stream loop when the settings ask for a search: its results are released
through the same loop as sampled ones (stop strings, the end token, cancelling). Beam search releases tokens only when every beam
that can still win agrees on them, so they arrive in bursts (the rest when the search ends). The search always runs
transformers' forward pass in the model's own weights (not scribe's GPT-2 decode step, nor its int8 copy).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import torch

from scribe.sampling.params import SamplingParams
from scribe.sampling.sampler import SampleResult
from scribe.sampling.search import search

if TYPE_CHECKING:
    from scribe.engine.streaming import StreamRun


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
    model: torch.nn.Module,
    ids: list[int],
    params: SamplingParams,
    run: "StreamRun",
    *,
    context_length: int,
    eos: frozenset[int],
    alternatives: int,
    token_text: Callable[[int], str],
) -> Iterator[SampleResult]:
    """The `produce` of `scribe.engine.streaming.stream_loop` that runs the search `params.search` asks for."""
    room = context_length - len(ids)
    run.prompt_tokens = len(ids)
    results = search(
        TransformersModelStep(model),
        torch.tensor(ids, dtype=torch.long, device=next(model.parameters()).device),
        params,
        max_new_tokens=min(params.max_new_tokens, room),
        eos_ids=eos,
        alternatives=alternatives,
        decode=token_text,
        cancelled=run.cancel.is_set,
    )
    released = 0
    for result in results:
        released += 1
        yield result
    if run.cancel.is_set():
        run.reason = "cancelled"
    elif released == room < params.max_new_tokens:
        run.reason = "context_full"
