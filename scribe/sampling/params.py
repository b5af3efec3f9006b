"""Sampling parameters: one validated, documented record shared by every backend, the CLI and the settings panel."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any


class InvalidSetting(ValueError):
    """A sampling value outside its allowed range; the message names the setting and the range."""


def _spec(doc: str, low: float | None = None, high: float | None = None, *, integer: bool = False) -> dict[str, Any]:
    return {"doc": doc, "low": low, "high": high, "integer": integer}


@dataclass(frozen=True)
class SamplingParams:
    """How the next token is chosen. Processors run in the order of `PROCESSOR_ORDER` (see sampler.py)."""

    temperature: float = field(
        default=0.8,
        metadata=_spec("Divide logits by this; 0 picks the most likely token (greedy).", 0.0, 10.0),
    )
    top_k: int = field(default=0, metadata=_spec("Keep only the k most likely tokens; 0 turns it off.", 0, None, integer=True))
    top_p: float = field(
        default=1.0, metadata=_spec("Keep the smallest set of tokens whose probability adds up to p; 1 turns it off.", 0.0, 1.0)
    )
    min_p: float = field(
        default=0.0,
        metadata=_spec("Drop tokens less likely than min_p times the most likely one; 0 turns it off.", 0.0, 1.0),
    )
    typical_p: float = field(
        default=1.0,
        metadata=_spec("Locally typical sampling: keep tokens closest to the expected surprise up to mass p; 1 turns it off.", 0.0, 1.0),
    )
    repetition_penalty: float = field(
        default=1.0,
        metadata=_spec("Divide positive (multiply negative) logits of tokens already in the context; 1 turns it off.", 0.01, 10.0),
    )
    frequency_penalty: float = field(
        default=0.0,
        metadata=_spec("Subtract this times the number of times a token was already generated.", -2.0, 2.0),
    )
    presence_penalty: float = field(
        default=0.0, metadata=_spec("Subtract this from every token already generated at least once.", -2.0, 2.0)
    )
    no_repeat_ngram_size: int = field(
        default=0, metadata=_spec("Forbid any n-gram of this size from appearing twice; 0 turns it off.", 0, 20, integer=True)
    )
    max_new_tokens: int = field(default=200, metadata=_spec("Stop after this many new tokens.", 1, 100_000, integer=True))
    seed: int | None = field(
        default=None, metadata=_spec("Random seed; the same seed, model, prompt and settings give the same text.", 0, 2**63 - 1, integer=True)
    )
    stop: tuple[str, ...] = field(default=(), metadata={"doc": "Stop when the continuation contains any of these strings (not included)."})

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            meta = f.metadata
            value = getattr(self, f.name)
            if f.name == "stop":
                if isinstance(value, str):
                    object.__setattr__(self, "stop", (value,) if value else ())
                elif not all(isinstance(s, str) and s for s in value):
                    raise InvalidSetting("stop: every stop string must be a non-empty string")
                else:
                    object.__setattr__(self, "stop", tuple(value))
                continue
            if value is None and f.name == "seed":
                continue
            object.__setattr__(self, f.name, _check_number(f.name, value, meta))

    @property
    def greedy(self) -> bool:
        """True when the choice is the arg-max (temperature 0)."""
        return self.temperature == 0.0

    def replace(self, **changes: Any) -> "SamplingParams":
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for JSON, TOML and node records."""
        data = dataclasses.asdict(self)
        data["stop"] = list(self.stop)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SamplingParams":
        """Build from plain values, refusing unknown names."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidSetting(f"unknown sampling setting(s): {', '.join(unknown)}")
        values = dict(data)
        if "stop" in values and values["stop"] is not None and not isinstance(values["stop"], str):
            values["stop"] = tuple(values["stop"])
        return cls(**values)

    @classmethod
    def parse_field(cls, name: str, text: str) -> Any:
        """Parse the text a user typed for one field (settings panel, CLI), raising InvalidSetting with a clear message."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if name not in fields:
            raise InvalidSetting(f"unknown sampling setting: {name}")
        text = text.strip()
        if name == "stop":
            return tuple(s for s in (part.encode().decode("unicode_escape") for part in text.split("|")) if s) if text else ()
        if name == "seed" and text.lower() in ("", "none", "random"):
            return None
        meta = fields[name].metadata
        try:
            value: Any = int(text) if meta["integer"] else float(text)
        except ValueError:
            kind = "a whole number" if meta["integer"] else "a number"
            raise InvalidSetting(f"{name}: {text!r} is not {kind}") from None
        return _check_number(name, value, meta)


def _check_number(name: str, value: Any, meta: dict[str, Any]) -> Any:
    low, high, integer = meta["low"], meta["high"], meta["integer"]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidSetting(f"{name}: expected a number, got {value!r}")
    if integer:
        if isinstance(value, float):
            if not value.is_integer():
                raise InvalidSetting(f"{name}: expected a whole number, got {value!r}")
            value = int(value)
    else:
        value = float(value)
        if math.isnan(value) or math.isinf(value):
            raise InvalidSetting(f"{name}: expected a finite number, got {value!r}")
    if low is not None and value < low or high is not None and value > high:
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise InvalidSetting(f"{name}: {value} is out of range; it must be {bounds}")
    return value


def field_docs() -> dict[str, str]:
    """Field name -> help text, for the settings panel and `--help`."""
    return {f.name: f.metadata["doc"] for f in dataclasses.fields(SamplingParams)}
