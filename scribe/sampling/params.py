"""Sampling parameters: one validated, documented record shared by every backend, the CLI and the settings panel."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class InvalidSetting(ValueError):
    """A sampling value outside its allowed range; the message names the setting and the range."""


def _spec(doc: str, low: float | None = None, high: float | None = None, *, integer: bool = False) -> dict[str, Any]:
    return {"doc": doc, "low": low, "high": high, "integer": integer}


def _choice(doc: str, *choices: str) -> dict[str, Any]:
    return {"doc": doc, "choices": choices}


def _text(doc: str, parse: Callable[[str], Any]) -> dict[str, Any]:
    return {"doc": doc, "parse": parse}


def parse_logit_bias(text: str) -> dict[int, float]:
    """A logit bias as `TOKEN_ID:BIAS` pairs separated by commas, e.g. `50256:-100, 198:2.5` (OpenAI's logit_bias)."""
    bias: dict[int, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        token, _, value = part.partition(":")
        try:
            token_id, amount = int(token), float(value)
        except ValueError:
            raise InvalidSetting(f"logit_bias: {part!r} is not TOKEN_ID:BIAS (e.g. 50256:-100, 198:2.5)") from None
        if token_id < 0 or not -100.0 <= amount <= 100.0:
            raise InvalidSetting(f"logit_bias: {part!r}: the token id must be 0 or more and the bias -100 to 100")
        bias[token_id] = amount
    return bias


def parse_token_ids(text: str) -> tuple[int, ...]:
    """Token ids separated by commas, e.g. `50256, 198`."""
    try:
        ids = tuple(int(p) for p in (p.strip() for p in text.split(",")) if p)
    except ValueError:
        raise InvalidSetting(f"banned_tokens: {text!r} is not a list of token ids such as 50256, 198") from None
    if any(i < 0 for i in ids):
        raise InvalidSetting("banned_tokens: token ids are 0 or more")
    return ids


PROCESSOR_ORDER: tuple[str, ...] = (
    "logit_bias",  # the writer's own biases and bans come first: everything after sees them
    "banned_tokens",
    "repetition_penalty",
    "frequency_penalty",
    "presence_penalty",
    "no_repeat_ngram",
    "dry",  # a penalty on the text so far: with the others, before temperature scales every logit
    "temperature",
    "dynatemp",  # instead of temperature when its range is set
    "top_n_sigma",  # relative to the highest logit, so before the filters that cut from the tail
    "top_k",
    "top_p",
    "min_p",
    "typical_p",
    "xtc",  # after the truncation filters: it reshapes the distribution they leave, which they would otherwise refill
    "mirostat",  # last: its feedback is the surprise of the drawn token in exactly the distribution it cut
)
"""The order the processors run in; see `scribe.sampling.processors`' docstring for each one's definition and why it
sits where it does."""


def parse_sampler_order(text: str) -> tuple[str, ...]:
    """A sampler order: processor names separated by commas; the ones left out run after them in the default order."""
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = [n for n in names if n not in PROCESSOR_ORDER]
    if unknown or len(set(names)) != len(names):
        problem = f"unknown {', '.join(unknown)}" if unknown else "a name given twice"
        raise InvalidSetting(f"sampler_order: {problem}; use names from {', '.join(PROCESSOR_ORDER)}")
    return names + tuple(n for n in PROCESSOR_ORDER if n not in names)


def parse_breakers(text: str) -> tuple[str, ...]:
    """DRY sequence breakers as text-generation-webui writes them: comma-separated JSON strings, e.g. `"\\n", ":"`."""
    try:
        breakers = json.loads(f"[{text}]")
    except json.JSONDecodeError:
        raise InvalidSetting(
            f'dry_sequence_breakers: {text!r} is not a list of quoted strings such as "\\n", ":", "*"'
        ) from None
    if not all(isinstance(b, str) and b for b in breakers):
        raise InvalidSetting("dry_sequence_breakers: every breaker must be a non-empty quoted string")
    return tuple(breakers)


PHRASE_LISTS = ("stop", "banned_phrases")
"""The fields that hold a list of strings (typed as `a|b|c`, with backslash escapes)."""


@dataclass(frozen=True)
class SamplingParams:
    """How the next token is chosen. Processors run in the order of `PROCESSOR_ORDER` (see processors.py); num_beams > 1
    or penalty_alpha > 0 replace sampling by a deterministic search (see search.py)."""

    temperature: float = field(
        default=0.8,
        metadata=_spec("Divide logits by this; 0 picks the most likely token (greedy).", 0.0, 10.0),
    )
    dynatemp_range: float = field(
        default=0.0,
        metadata=_spec("Dynamic temperature: the temperature moves within temperature ± this range with the entropy "
                       "of the distribution (low when the model is sure, high when it is not); 0 turns it off.",
                       0.0, 10.0),
    )
    dynatemp_exponent: float = field(
        default=1.0,
        metadata=_spec("Dynamic temperature: the normalised entropy is raised to this power before it picks the "
                       "temperature.", 0.01, 10.0),
    )
    top_n_sigma: float = field(
        default=0.0,
        metadata=_spec("Top-nσ: keep tokens whose logit is within n standard deviations of the highest logit; 0 "
                       "turns it off (1 is usual).", 0.0, 10.0),
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
    logit_bias: str = field(
        default="",
        metadata=_text("Add a bias to chosen tokens' logits before anything else: TOKEN_ID:BIAS pairs, e.g. "
                       "50256:-100, 198:2.5 (-100 all but bans it). Empty turns it off.", parse_logit_bias),
    )
    banned_tokens: str = field(
        default="",
        metadata=_text("Never pick these tokens: token ids separated by commas (see --json output for ids). Empty "
                       "turns it off.", parse_token_ids),
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
    dry_multiplier: float = field(
        default=0.0,
        metadata=_spec(
            "DRY (don't repeat yourself): penalty strength for a token that would extend a repeat of earlier text; "
            "0 turns it off, 0.8 is usual.",
            0.0,
            10.0,
        ),
    )
    dry_base: float = field(
        default=1.75,
        metadata=_spec("DRY: the penalty grows by this factor with every token the repeat is longer.", 1.0, 10.0),
    )
    dry_allowed_length: int = field(
        default=2,
        metadata=_spec("DRY: repeats up to this many tokens long go unpenalised.", 1, 100, integer=True),
    )
    dry_sequence_breakers: str = field(
        default='"\\n", ":", "\\"", "*"',
        metadata=_text(
            'DRY: quoted, comma-separated strings; a token containing one ends a repeat (as "\\n", ":", "\\"", "*").',
            parse_breakers,
        ),
    )
    xtc_threshold: float = field(
        default=0.1,
        metadata=_spec("XTC (exclude top choices): tokens at least this likely count as top choices.", 0.0, 1.0),
    )
    xtc_probability: float = field(
        default=0.0,
        metadata=_spec(
            "XTC: chance per token of removing every top choice but the least likely one; 0 turns XTC off.", 0.0, 1.0
        ),
    )
    mirostat_tau: float = field(
        default=0.0,
        metadata=_spec(
            "Mirostat v2: target surprise in bits per token (5 is usual); tokens more surprising than the running "
            "limit are cut. 0 turns it off.",
            0.0,
            30.0,
        ),
    )
    mirostat_eta: float = field(
        default=0.1, metadata=_spec("Mirostat v2: how fast the limit follows the observed surprise.", 0.0, 1.0)
    )
    num_beams: int = field(
        default=1,
        metadata=_spec(
            "Beam search: keep this many candidate continuations and return the most likely (deterministic; text "
            "appears as all beams agree). 1 turns it off.",
            1,
            32,
            integer=True,
        ),
    )
    length_penalty: float = field(
        default=1.0,
        metadata=_spec(
            "Beam search: a finished beam scores its log-probability divided by length**length_penalty; above 0 "
            "favours longer text.",
            -10.0,
            10.0,
        ),
    )
    early_stopping: str = field(
        default="heuristic",
        metadata=_choice(
            "Beam search: heuristic (stop when no running beam can beat the finished ones), true (stop once "
            "num_beams beams have finished) or never (search until no beam can improve, exact).",
            "heuristic",
            "true",
            "never",
        ),
    )
    penalty_alpha: float = field(
        default=0.0,
        metadata=_spec(
            "Contrastive search: among the top_k (4 when top_k is 0) most likely tokens pick the best (1 - alpha) * "
            "probability - alpha * similarity to the text so far (deterministic; 0.6 is usual). 0 turns it off; "
            "num_beams > 1 takes precedence.",
            0.0,
            1.0,
        ),
    )
    sampler_order: str = field(
        default="",
        metadata=_text("The order the processors run in: names separated by commas (those left out follow in the "
                       "documented order). Empty: the documented order.", parse_sampler_order),
    )
    max_new_tokens: int = field(default=200, metadata=_spec("Stop after this many new tokens.", 1, 100_000, integer=True))
    seed: int | None = field(
        default=None, metadata=_spec("Random seed; the same seed, model, prompt and settings give the same text.", 0, 2**63 - 1, integer=True)
    )
    stop: tuple[str, ...] = field(default=(), metadata={"doc": "Stop when the continuation contains any of these strings (not included)."})
    banned_phrases: tuple[str, ...] = field(
        default=(),
        metadata={"doc": "Phrases never to write (any case): when one forms, generation goes back to where it began "
                         "and picks another token there (KoboldCpp's anti-slop)."},
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            meta = f.metadata
            value = getattr(self, f.name)
            if f.name in PHRASE_LISTS:
                if isinstance(value, str):
                    object.__setattr__(self, f.name, (value,) if value else ())
                elif not all(isinstance(s, str) and s for s in value):
                    raise InvalidSetting(f"{f.name}: every entry must be a non-empty string")
                else:
                    object.__setattr__(self, f.name, tuple(value))
                continue
            if value is None and f.name == "seed":
                continue
            object.__setattr__(self, f.name, _check_value(f.name, value, meta))

    @property
    def search(self) -> str | None:
        """The deterministic search these settings ask for instead of sampling: "beam" when num_beams > 1, else
        "contrastive" when penalty_alpha > 0 (as transformers chooses), else None."""
        if self.num_beams > 1:
            return "beam"
        return "contrastive" if self.penalty_alpha > 0 else None

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
        for name in PHRASE_LISTS:
            data[name] = list(data[name])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SamplingParams":
        """Build from plain values, refusing unknown names."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidSetting(f"unknown sampling setting(s): {', '.join(unknown)}")
        values = dict(data)
        for name in PHRASE_LISTS:
            if values.get(name) is not None and not isinstance(values[name], str):
                values[name] = tuple(values[name])
        return cls(**values)

    @classmethod
    def parse_field(cls, name: str, text: str) -> Any:
        """Parse the text a user typed for one field (settings panel, CLI), raising InvalidSetting with a clear message."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if name not in fields:
            raise InvalidSetting(f"unknown sampling setting: {name}")
        text = text.strip()
        if name in PHRASE_LISTS:
            return tuple(s for s in (part.encode().decode("unicode_escape") for part in text.split("|")) if s) if text else ()
        if name == "seed" and text.lower() in ("", "none", "random"):
            return None
        meta = fields[name].metadata
        if "choices" in meta or "parse" in meta:
            return _check_value(name, text, meta)
        try:
            value: Any = int(text) if meta["integer"] else float(text)
        except ValueError:
            kind = "a whole number" if meta["integer"] else "a number"
            raise InvalidSetting(f"{name}: {text!r} is not {kind}") from None
        return _check_number(name, value, meta)


def _check_value(name: str, value: Any, meta: dict[str, Any]) -> Any:
    """The validated value of a number, choice or text field."""
    if "choices" in meta:
        if isinstance(value, bool):  # transformers' early_stopping=True/False
            value = meta["choices"][1] if value else meta["choices"][0]
        text = value.strip().lower() if isinstance(value, str) else value
        if text not in meta["choices"]:
            raise InvalidSetting(f"{name}: {value!r} is not one of {', '.join(meta['choices'])}")
        return text
    if "parse" in meta:
        if not isinstance(value, str):
            raise InvalidSetting(f"{name}: expected text, got {value!r}")
        meta["parse"](value)
        return value
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
