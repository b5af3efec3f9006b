"""Generation speed of a model, measured the way the studio generates: its backend streams greedy tokens."""

from __future__ import annotations

from scribe.sampling.params import SamplingParams

SPEED_PROMPT = "It was a bright cold day in April, and the clocks were striking thirteen. Winston Smith,"
"""The prompt every model continues when its speed is measured."""


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
