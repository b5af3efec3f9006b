"""Models side by side on the same files: perplexity and bits per character (`scribe.training.evaluate`) and
generation speed, measured the way the studio generates (the model's backend streams greedy tokens).

`compare_model` gives one row of `scribe eval`'s table; the TUI's evaluation view shows the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scribe.sampling.params import SamplingParams

SPEED_PROMPT = "It was a bright cold day in April, and the clocks were striking thirteen. Winston Smith,"
"""The prompt every model continues when its speed is measured."""
COLUMNS = ("model", "tokens", "characters", "loss", "perplexity", "bits/char", "tokens/s")


def generation_speed(name_or_path: str, *, tokens: int, device: str = "auto", dtype: str = "auto") -> float:
    """Decode tokens per second (after the first token) of `tokens` greedy tokens from SPEED_PROMPT."""
    from scribe.engine.base import EngineError, StreamEnd
    from scribe.engine.registry import load_model

    backend = load_model(name_or_path, device=device, dtype=dtype)
    try:
        params = SamplingParams(temperature=0.0, max_new_tokens=tokens, seed=0)
        end = next(item for item in backend.stream(SPEED_PROMPT, params, alternatives=0) if isinstance(item, StreamEnd))
    finally:
        backend.close()
    if end.reason == "error":
        raise EngineError(f"{name_or_path}: speed not measured: {end.error}")
    return end.tokens_per_s


def compare_model(name_or_path: str, files: Sequence[str | Path], *, max_length: int | None = None,
                  stride: int | None = None, device: str = "auto", strip_gutenberg: bool = False,
                  speed_tokens: int = 64) -> dict[str, Any]:
    """One model's row: its score on `files` (sliding-window perplexity, bits per character) and, unless
    `speed_tokens` is 0, its tokens/s."""
    from scribe.training.evaluate import evaluate_model

    score = evaluate_model(name_or_path, files, max_length=max_length, stride=stride, device=device,
                           strip_gutenberg=strip_gutenberg)
    speed = generation_speed(name_or_path, tokens=speed_tokens, device=device) if speed_tokens > 0 else None
    return {"model": score.model, "tokens": score.tokens, "characters": score.characters, "loss": score.loss,
            "perplexity": score.perplexity, "bits_per_char": score.bits_per_char, "max_length": max_length,
            "stride": stride, "tokens_per_s": speed}


def row_cells(row: dict[str, Any]) -> tuple[str, ...]:
    """A row's values as table cells, in COLUMNS order."""
    speed = row.get("tokens_per_s")
    return (str(row["model"]), f"{row['tokens']:,}", f"{row['characters']:,}", f"{row['loss']:.4f}",
            f"{row['perplexity']:.2f}", f"{row['bits_per_char']:.4f}", "-" if speed is None else f"{speed:.1f}")
