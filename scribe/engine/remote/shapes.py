"""Checking the values a server sends: each helper returns the value when it has the expected type and range, and
raises `Malformed` (with a short description of where and what) otherwise. Nothing a server sends reaches the rest
of scribe unchecked."""

from __future__ import annotations

import math
from typing import Any, cast

from scribe.engine.base import Alternative

_LOGPROB_SLACK = 1e-4
"""Servers round: a log-probability up to this far above 0 counts as 0."""


class Malformed(Exception):
    """A server's answer that does not have the documented shape."""


def describe(value: Any) -> str:
    """A short, one-line picture of a value for a message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def obj(value: Any, where: str) -> dict[str, Any]:
    """`value` when it is a JSON object."""
    if not isinstance(value, dict):
        raise Malformed(f"{where} is {describe(value)}, not an object")
    return value


def array(value: Any, where: str) -> list[Any]:
    """`value` when it is a JSON array."""
    if not isinstance(value, list):
        raise Malformed(f"{where} is {describe(value)}, not a list")
    return value


def opt_array(value: Any, where: str) -> list[Any]:
    """`value` when it is a JSON array; [] when it is missing (None)."""
    return [] if value is None else array(value, where)


def text(value: Any, where: str) -> str:
    """`value` when it is a string."""
    if not isinstance(value, str):
        raise Malformed(f"{where} is {describe(value)}, not text")
    return value


def opt_text(value: Any, where: str) -> str | None:
    """`value` when it is a string or missing (None)."""
    return None if value is None else text(value, where)


def flag(value: Any, where: str) -> bool:
    """`value` when it is true or false; missing (None) is false."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise Malformed(f"{where} is {describe(value)}, not true or false")
    return value


def count(value: Any, where: str) -> int | None:
    """`value` when it is a whole number from 0 up; None when it is missing."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Malformed(f"{where} is {describe(value)}, not a count")
    return value


def logprob(value: Any, where: str) -> float:
    """`value` when it is a finite log-probability (at most 0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -math.inf < value <= _LOGPROB_SLACK:
        raise Malformed(f"{where} is {describe(value)}, not a log-probability")
    return min(float(value), 0.0)


def probability(value: Any, where: str) -> float:
    """`value` when it is a probability (0 to 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise Malformed(f"{where} is {describe(value)}, not a probability")
    return float(value)


def alternatives(items: list[Any], n: int, where: str, *, token_key: str = "token", logprob_key: str | None = "logprob",
                 prob_key: str | None = None) -> tuple[Alternative, ...]:
    """The `n` most likely of a list of `{token, logprob}` objects (or `{token, prob}` with `prob_key`)."""
    ranked: list[tuple[float, str]] = []
    value_key = prob_key or logprob_key or "logprob"
    for i, item in enumerate(items):
        # the common case checked inline (this runs for every alternative of every token); the helpers name a fault
        token = item.get(token_key) if type(item) is dict else None
        value = item.get(value_key) if type(item) is dict else None
        in_range = (type(value) is float or type(value) is int) and (
            (0.0 <= value <= 1.0) if prob_key else (-math.inf < value <= _LOGPROB_SLACK))
        if type(token) is not str or not in_range:
            entry = obj(item, f"{where}[{i}]")
            text(entry.get(token_key), f"{where}[{i}].{token_key}")
            (probability if prob_key else logprob)(entry.get(value_key), f"{where}[{i}].{value_key}")
        ranked.append((cast(float, value), cast(str, token)))
    ranked.sort(key=lambda pair: -pair[0])
    result = []
    for value, token in ranked[:n]:
        p = float(value) if prob_key else math.exp(value) if value < 0.0 else 1.0
        result.append(Alternative(-1, token, p, p))
    return tuple(result)
