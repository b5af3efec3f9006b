"""Sampling sweeps: the same prompt continued under every combination of up to two sampling settings.

Every cell draws the same number of samples with the same seeds (sample i uses seed + i in every cell), so cells differ
only in the swept settings. Per cell: the mean log-probability of the sampled tokens under the model (raw
distribution, natural log; None when the backend reports no probabilities), distinct-1/2/3 over the cell's samples,
the mean repetition rate (seq-rep-4) and self-BLEU (see `scribe.analysis.diversity`).
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from scribe.analysis.diversity import distinct_n, repetition_rate, self_bleu, words
from scribe.engine.base import Backend, EngineError, StreamEnd, TokenStep
from scribe.sampling.params import InvalidSetting, SamplingParams, field_docs

MAX_AXES = 2
UNSWEEPABLE = ("seed", "stop", "max_new_tokens")
"""Settings a sweep cannot vary (the seed is the sweep's own; the length is the same for every cell)."""


@dataclass(frozen=True)
class Axis:
    """One swept setting and its values."""

    name: str
    values: tuple[float | int, ...]


def parse_axis(spec: str) -> Axis:
    """Parse "temperature=0.1,0.7,1.0" (values checked like any setting); InvalidSetting says what is wrong."""
    name, sep, listed = spec.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not listed.strip():
        raise InvalidSetting(f"grid {spec!r}: write NAME=V1,V2,... (for example temperature=0.1,0.7,1.0)")
    if name not in field_docs() or name in UNSWEEPABLE:
        choices = ", ".join(n for n in field_docs() if n not in UNSWEEPABLE)
        raise InvalidSetting(f"grid {spec!r}: cannot sweep {name!r}; choose one of {choices}")
    values = tuple(SamplingParams.parse_field(name, part) for part in listed.split(",") if part.strip())
    if len(set(values)) != len(values):
        raise InvalidSetting(f"grid {spec!r}: a value is listed twice")
    return Axis(name, values)


def check_axes(axes: Sequence[Axis]) -> None:
    """Refuse more than two axes, or one setting swept twice."""
    if not 1 <= len(axes) <= MAX_AXES:
        raise InvalidSetting(f"a sweep varies one or two settings, not {len(axes)}")
    if len({axis.name for axis in axes}) != len(axes):
        raise InvalidSetting("each setting can be swept only once")


@dataclass(frozen=True)
class Sample:
    """One continuation drawn in a cell."""

    seed: int
    text: str
    tokens: int
    mean_logprob: float | None
    reason: str
    """Why it ended (StreamEnd.reason)."""


@dataclass(frozen=True)
class Cell:
    """The samples drawn at one combination of settings, and what they measure."""

    settings: dict[str, float | int]
    samples: tuple[Sample, ...]
    mean_logprob: float | None
    distinct: tuple[float | None, float | None, float | None]
    """distinct-1, distinct-2, distinct-3 over the cell's samples."""
    repetition_rate: float | None
    self_bleu: float | None

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {"settings": self.settings, "mean_logprob": self.mean_logprob,
                "distinct_1": self.distinct[0], "distinct_2": self.distinct[1], "distinct_3": self.distinct[2],
                "repetition_rate": self.repetition_rate, "self_bleu": self.self_bleu,
                "samples": [vars(sample) for sample in self.samples]}


@dataclass(frozen=True)
class SweepResult:
    """A finished (or cancelled) sweep: its cells in grid order, the first axis varying slowest."""

    model: str
    prompt: str
    axes: tuple[Axis, ...]
    seed: int
    base: SamplingParams
    cells: tuple[Cell, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {"model": self.model, "prompt": self.prompt, "seed": self.seed,
                "axes": [{"name": a.name, "values": list(a.values)} for a in self.axes],
                "base": self.base.to_dict(), "cells": [cell.to_dict() for cell in self.cells]}


def grid(axes: Sequence[Axis]) -> list[dict[str, float | int]]:
    """Every combination of the axes' values, the first axis varying slowest."""
    return [dict(zip((a.name for a in axes), combo)) for combo in itertools.product(*(a.values for a in axes))]


def measure(settings: dict[str, float | int], samples: Sequence[Sample]) -> Cell:
    """A cell's metrics from its samples."""
    tokenised = [words(sample.text) for sample in samples]
    logprobs = [s.mean_logprob * s.tokens for s in samples if s.mean_logprob is not None]
    counted = sum(s.tokens for s in samples if s.mean_logprob is not None)
    rates = [r for r in (repetition_rate(t) for t in tokenised) if r is not None]
    return Cell(
        settings=settings, samples=tuple(samples),
        mean_logprob=sum(logprobs) / counted if counted else None,
        distinct=(distinct_n(tokenised, 1), distinct_n(tokenised, 2), distinct_n(tokenised, 3)),
        repetition_rate=sum(rates) / len(rates) if rates else None,
        self_bleu=self_bleu(tokenised),
    )


def draw(backend: Backend, prompt: str, params: SamplingParams, cancel: threading.Event | None = None) -> Sample:
    """One continuation of `prompt` (params.seed set); EngineError when the stream fails."""
    logprobs: list[float] = []
    end: StreamEnd | None = None
    for item in backend.stream(prompt, params, alternatives=0, cancel=cancel):
        if isinstance(item, TokenStep):
            if item.raw_prob > 0 and not math.isnan(item.raw_prob):
                logprobs.append(math.log(item.raw_prob))
        else:
            end = item
    assert end is not None, "a stream always ends with a StreamEnd"
    if end.reason == "error":
        raise EngineError(end.error or "generation failed")
    mean = sum(logprobs) / len(logprobs) if logprobs and len(logprobs) == end.tokens else None
    return Sample(seed=params.seed or 0, text=end.text, tokens=end.tokens, mean_logprob=mean, reason=end.reason)


def run_sweep(backend: Backend, prompt: str, base: SamplingParams, axes: Sequence[Axis], samples: int, *,
              seed: int, cancel: threading.Event | None = None,
              on_cell: Callable[[int, int, Cell], None] | None = None) -> SweepResult:
    """Draw `samples` continuations per cell; `on_cell(index, total, cell)` after each. Stops early on `cancel`."""
    check_axes(axes)
    if samples < 1:
        raise InvalidSetting("samples must be 1 or more")
    combos = grid(axes)
    cells: list[Cell] = []
    for index, settings in enumerate(combos):
        if cancel is not None and cancel.is_set():
            break
        drawn = [draw(backend, prompt, base.replace(**settings, seed=(seed + i) % 2**63), cancel)
                 for i in range(samples)]
        cell = measure(settings, drawn)
        cells.append(cell)
        if on_cell is not None:
            on_cell(index, len(combos), cell)
    return SweepResult(model=backend.info.name, prompt=prompt, axes=tuple(axes), seed=seed, base=base,
                       cells=tuple(cells))
