"""Several continuations of one prompt in one batched decode (the studio's drafts on a backend with `fork` and
`step_rows`: `GPT2Decoder`, `LlamaDecoder`).

The prompt runs once (through the prompt cache), its cache is copied into one row per continuation, and every step
runs all rows' next tokens as one batch. Each row has its own `Sampler` (its own seed and state) and its own
`stream_loop` (stop strings, the end token), so a row gives the tokens and probabilities a single stream with its
settings would give. `batched_streams` interleaves the rows' items as (row, item) pairs.

Timing: one batched step makes the next token of every row, so each row's token n took the time of step n (its
`elapsed_s`), and a draft's speed is its tokens over the time of the steps that made them: what each draft got, the
same for all. (A row's own loop would time only its turn: the first row's turn runs the step, the others' find their
token waiting, which made every draft after the first look hundreds of times faster.)
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Protocol

import torch

from scribe.engine.streaming import LogitSteps, StreamRun, stream_loop
from scribe.sampling.params import SamplingParams
from scribe.sampling.processors import Ranker
from scribe.sampling.sampler import SampleResult, Sampler
from scribe.types import StreamEnd, TokenStep


class RowDecoder(Protocol):
    """A decoder that can copy its cache into rows and step them together."""

    def fork(self, rows: int) -> None: ...

    def step_rows(self, tokens: torch.Tensor) -> torch.Tensor: ...

    def unfork(self) -> None: ...


def can_batch(params: Sequence[SamplingParams]) -> bool:
    """True when these settings can share one batched decode: sampling (no search), no banned phrases (their
    rewinds are per row), one `max_new_tokens`."""
    return (len(params) > 1 and all(p.search is None and not p.banned_phrases for p in params)
            and len({p.max_new_tokens for p in params}) == 1)


class _Rows:
    """The shared state of the rows: their sequences, samplers and the tokens sampled but not yet streamed."""

    def __init__(self, steps: LogitSteps, decoder: RowDecoder, ids: Sequence[int], params: Sequence[SamplingParams], *,
                 context_length: int, alternatives: int, token_text: Callable[[int], str],
                 device: torch.device | str, ranker: Ranker | None) -> None:
        self.steps, self.decoder = steps, decoder
        self.samplers = [Sampler(p, device=device, ranker=ranker) for p in params]
        self.prompt_tokens = len(ids)
        self.total = len(ids) + params[0].max_new_tokens
        self.context_length = context_length
        self.alternatives, self.token_text = alternatives, token_text
        with torch.inference_mode():
            self.sequences = torch.zeros(len(params), self.total, dtype=torch.long, device=device)
            self.sequences[:, : len(ids)] = torch.tensor(list(ids), dtype=torch.long)
        self.length = len(ids)
        self.queues: list[deque[SampleResult]] = [deque() for _ in params]
        self.done = [False] * len(params)
        self.started = False
        self.step_seconds: list[float] = []
        """How long each step took (the prompt's included in the first), for every row's token of that step."""

    @torch.inference_mode()
    def advance(self) -> None:
        """Sample one more token for every row still streaming: after the prompt the first time, then after one
        batched step."""
        began = time.perf_counter()
        if not self.started:
            self.steps.reserve(min(self.total, self.context_length))
            logits = self.steps.prefill(self.sequences[0, : self.length]).expand(len(self.samplers), -1)
            self.decoder.fork(len(self.samplers))
            self.started = True
        else:
            logits = self.decoder.step_rows(self.sequences[:, self.length - 1])
        for row, sampler in enumerate(self.samplers):
            if self.done[row]:
                continue
            result = sampler.step(logits[row], self.sequences[row, : self.length], self.prompt_tokens,
                                  alternatives=self.alternatives, decode=self.token_text, banned=[])
            self.sequences[row, self.length] = result.token_id
            self.queues[row].append(result)
        self.length += 1
        self.step_seconds.append(time.perf_counter() - began)

    def produce(self, row: int, run: StreamRun) -> Iterator[SampleResult]:
        """Row `row`'s tokens (the `produce` of its stream loop)."""
        run.prompt_tokens = self.prompt_tokens
        try:
            while True:
                if run.cancel.is_set():
                    run.reason = "cancelled"
                    return
                if not self.queues[row]:
                    if self.length >= self.total:
                        return
                    if self.length > self.context_length:
                        run.reason = "context_full"
                        return
                    self.advance()
                yield self.queues[row].popleft()
        finally:
            self.done[row] = True


def batched_streams(
    steps: LogitSteps,
    decoder: RowDecoder,
    ids: Sequence[int],
    params: Sequence[SamplingParams],
    *,
    context_length: int,
    alternatives: int,
    token_text: Callable[[int], str],
    decode: Callable[[Sequence[int]], str],
    eos: frozenset[int],
    device: torch.device | str,
    cancel: threading.Event | None,
    ranker: Ranker | None = None,
) -> Iterator[tuple[int, TokenStep | StreamEnd]]:
    """One stream per settings in `params` after the prompt `ids`, decoded as one batch: (row, item) pairs, rows
    taking turns token by token, each row ending with its own StreamEnd (`ranker`: the samplers' partial sort, as
    `sampled_tokens` takes it)."""
    rows = _Rows(steps, decoder, ids, params, context_length=context_length, alternatives=alternatives,
                 token_text=token_text, device=device, ranker=ranker)
    loops = {row: stream_loop(partial(rows.produce, row), decode=decode, stops=p.stop, eos=eos, cancel=cancel)
             for row, p in enumerate(params)}
    try:
        while loops:
            for row in list(loops):
                item = next(loops[row])
                if isinstance(item, TokenStep):  # the time of the step that made it (module docstring)
                    item = dataclasses.replace(item, elapsed_s=rows.step_seconds[item.index])
                yield row, item
                if isinstance(item, StreamEnd):
                    loops.pop(row).close()  # its rows' sampling stops
    finally:
        for loop in loops.values():
            loop.close()
        decoder.unfork()
