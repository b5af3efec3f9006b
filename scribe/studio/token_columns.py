"""The tokens of a whole branch tree packed into compact binary columns (the sidecar's version 2 form).

Every generated token keeps its probabilities and its top alternatives; written as one JSON list per token, a tree of
200 continuations of 200 tokens with 5 alternatives is about 9 MB. Here the tokens of every node go into typed
columns, compressed together (lzma) and carried base85 in the sidecar (about 1 MB for that tree):

- each distinct (token id, text) pair is written once, in a per-tree table (most used first), and tokens refer to it
  by number (the texts of alternatives cannot be recovered from their ids without the model's tokenizer);
- a probability is a 16-bit code on a log scale (`quantise`), close enough that the studio shows exactly the same
  percentage and colour for it (`shown`); alternatives come sorted, so each is kept as its step from the one before,
  and a final probability as its step from the raw one;
- the picked token, when it is one of its alternatives with the same probabilities, is the number of that
  alternative;
- the columns are stored byte plane by byte plane, which compresses much better.

Nothing here imports textual or torch.
"""

from __future__ import annotations

import base64
import lzma
import math
import sys
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from scribe.types import Alternative

CODEC = "columns-1"
STEP = 0.008
"""From 0.1 % up, probabilities are kept as -ln(p) in steps of 0.008 (0.8 %): finer than the narrowest span the studio
shows as one value (a whole percent near 100 %, a tenth of a percent near 10 %, about 1 % of the value), so some step
always shows the same as the value it stands for."""
COARSE_STEP = 0.1
"""Below 0.1 %, where the studio shows "<0.1%", the steps are 10 % apart, down to 1e-12."""
_FINE = round(-math.log(0.001) / STEP)
_ZERO, _NAN = 0, 65535
_LAST = 1 + _FINE + round(-math.log(1e-12 / 0.001) / COARSE_STEP)
_BANDS = (0.001, 0.01, 0.05, 0.1, 0.2, 0.5)
"""Where what the studio shows changes besides the rounding: "<0.1%", and the colour bands of `probability_style`."""
_PLAIN = "\x00"
"""The `removed_by` name that stands for None in the table of processor names."""


def shown(p: float) -> tuple[Any, ...]:
    """What the studio shows of probability `p` (`percent` and `probability_style` in the UI): unknown, zero, its
    colour band, and whole percent from 10 %, tenths of a percent from 0.1 %, "<0.1%" below."""
    if math.isnan(p):
        return ("nan",)
    if p <= 0.0:
        return ("zero",)
    bands = sum(p >= band for band in _BANDS)
    return (bands, f"{p:.0%}" if p >= 0.1 else f"{p:.1%}" if p >= 0.001 else "")


_values: list[float] = []
_shown: list[tuple[Any, ...]] = []


def _table() -> list[float]:
    """The probability of every code (built once)."""
    if not _values:
        steps = [math.exp(-step * STEP) for step in range(_FINE + 1)]
        steps += [0.001 * math.exp(-step * COARSE_STEP) for step in range(1, _LAST - _FINE)]
        _values.extend([0.0, *(float(f"{v:.6g}") for v in steps)])  # short in a JSON export, and read back exactly
        _shown.extend(shown(v) for v in _values)
    return _values


_memo: dict[float, int] = {}
_MEMO_LIMIT = 1 << 20


def quantise(p: float) -> int:
    """The code of probability `p`: the nearest step, or the next one where the nearest would show differently
    (`shown`); clamped to [1e-12, 1]. Remembered, so saving a grown tree again only quantises its new tokens."""
    code = _memo.get(p)
    if code is not None:
        return code
    if math.isnan(p):
        code = _NAN
    elif p <= 0.0:
        code = _ZERO
    else:
        _table()
        steps = -math.log(min(p, 1.0)) / STEP
        code = 1 + (round(steps) if steps <= _FINE else _FINE + round((steps - _FINE) * STEP / COARSE_STEP))
        code = min(max(code, 1), _LAST)
        want = shown(p)
        if _shown[code] != want:
            code = next((c for c in (code - 1, code + 1) if 0 < c <= _LAST and _shown[c] == want), code)
    if len(_memo) >= _MEMO_LIMIT:
        _memo.clear()
    _memo[p] = code
    return code


def dequantise(code: int) -> float:
    """The probability a code stands for."""
    return _table()[code] if code <= _LAST else math.nan


def _planes(column: array) -> bytes:
    """A column's bytes, little-endian, byte plane by byte plane (all lowest bytes first)."""
    if sys.byteorder == "big" and column.itemsize > 1:
        column = array(column.typecode, column)
        column.byteswap()
    raw = column.tobytes()
    return b"".join(raw[i :: column.itemsize] for i in range(column.itemsize))


def _unplanes(typecode: str, data: bytes) -> array:
    column = array(typecode)
    size = column.itemsize
    count = len(data) // size
    interleaved = bytearray(len(data))
    for i in range(size):
        interleaved[i::size] = data[i * count : (i + 1) * count]
    column.frombytes(bytes(interleaved))
    if sys.byteorder == "big" and size > 1:
        column.byteswap()
    return column


_COLUMNS = (
    ("alternative_counts", "H"),
    ("picked", "H"),  # 0: the picked token is stored on its own; k: it is alternative k (from 1), probabilities too
    ("token_pairs", "I"),
    ("token_raw", "H"),
    ("token_final", "H"),
    ("pairs", "I"),
    ("raw", "H"),  # the first alternative's code, then each one's step from the one before (they come sorted)
    ("removed_by", "B"),
    ("final_zero", "B"),
    ("final", "H"),  # the nonzero ones only: (final - raw), then its step from the alternative before
    ("pair_ids", "q"),
    ("pair_text_lengths", "I"),
)
_MASK = 0xFFFF


class _Pairs:
    """The distinct (id, text) pairs, numbered in order of first use."""

    def __init__(self) -> None:
        self.index: dict[tuple[int, str], int] = {}

    def number(self, token_id: int, text: str) -> int:
        key = (token_id, text)
        found = self.index.get(key)
        if found is None:
            found = self.index[key] = len(self.index)
        return found


def encode(token_lists: Iterable[Sequence[Any]]) -> dict[str, Any]:
    """Pack the tokens (`TokenRecord`s) of every node, node after node, into the sidecar's `tokens` object."""
    columns = {name: array(typecode) for name, typecode in _COLUMNS}
    pairs, processors = _Pairs(), {_PLAIN: 0}
    counts = []
    for tokens in token_lists:
        counts.append(len(tokens))
        for token in tokens:
            _encode_token(token, columns, pairs, processors)
    order = _by_use(pairs, columns)
    texts = []
    for (token_id, text) in order:
        columns["pair_ids"].append(token_id)
        encoded = text.encode("utf-8", "surrogatepass")
        columns["pair_text_lengths"].append(len(encoded))
        texts.append(encoded)
    body = b"".join(_planes(columns[name]) for name, _ in _COLUMNS) + b"".join(texts)
    return {"codec": CODEC, "counts": counts, "lengths": [len(columns[name]) for name, _ in _COLUMNS],
            "processors": list(processors)[1:], "data": base64.b85encode(lzma.compress(body)).decode("ascii")}


def _by_use(pairs: _Pairs, columns: dict[str, array]) -> list[tuple[int, str]]:
    """The pairs, most used first, with the columns renumbered to match (small numbers compress better)."""
    uses = Counter(columns["pairs"])
    uses.update(columns["token_pairs"])
    ranked = sorted(range(len(pairs.index)), key=lambda number: -uses[number])
    renumber = array("I", bytes(4 * len(ranked)))
    for rank, number in enumerate(ranked):
        renumber[number] = rank
    for name in ("pairs", "token_pairs"):
        columns[name] = array("I", [renumber[number] for number in columns[name]])
    listed = list(pairs.index)
    return [listed[number] for number in ranked]


def _encode_token(token: Any, columns: dict[str, array], pairs: _Pairs, processors: dict[str, int]) -> None:
    alternatives = token.alternatives
    columns["alternative_counts"].append(len(alternatives))
    picked = previous_raw = previous_gap = 0
    for number, alt in enumerate(alternatives, 1):
        columns["pairs"].append(pairs.number(alt.token_id, alt.text))
        raw, final = quantise(alt.raw_prob), quantise(alt.final_prob)
        columns["raw"].append((raw - previous_raw) & _MASK)
        previous_raw = raw
        name = _PLAIN if alt.removed_by is None else alt.removed_by
        columns["removed_by"].append(processors.setdefault(name, len(processors)))
        columns["final_zero"].append(final == _ZERO)
        if final != _ZERO:
            gap = (final - raw) & _MASK
            columns["final"].append((gap - previous_gap) & _MASK)
            previous_gap = gap
        if (not picked and alt.token_id == token.token_id and alt.text == token.text and _same(alt.raw_prob, token.raw_prob)
                and _same(alt.final_prob, token.final_prob)):
            picked = number
    columns["picked"].append(picked)
    if not picked:
        columns["token_pairs"].append(pairs.number(token.token_id, token.text))
        columns["token_raw"].append(quantise(token.raw_prob))
        columns["token_final"].append(quantise(token.final_prob))


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


Token = tuple[int, str, float, float, tuple[Alternative, ...]]


def decode(data: dict[str, Any]) -> list[list[Token]]:
    """The tokens of every node, as (id, text, raw, final, alternatives) tuples: the reverse of `encode`."""
    if data.get("codec") != CODEC:
        raise ValueError(f"unknown token codec {data.get('codec')!r}")
    body = lzma.decompress(base64.b85decode(data["data"]))
    columns: dict[str, array] = {}
    offset = 0
    for (name, typecode), length in zip(_COLUMNS, data["lengths"], strict=True):
        size = array(typecode).itemsize * int(length)
        columns[name] = _unplanes(typecode, body[offset : offset + size])
        offset += size
    table: list[tuple[int, str]] = []
    for token_id, length in zip(columns["pair_ids"], columns["pair_text_lengths"]):
        table.append((token_id, body[offset : offset + length].decode("utf-8", "surrogatepass")))
        offset += length
    names: list[str | None] = [None, *data.get("processors", [])]
    value = [*_table(), *([math.nan] * (_NAN - _LAST))]
    widths, picked_column = columns["alternative_counts"], columns["picked"]
    pair_column, raw_column, removed_column = columns["pairs"], columns["raw"], columns["removed_by"]
    zero_column, final_column = columns["final_zero"], columns["final"]
    out = []
    alt_at = token_at = final_at = position = 0
    for count in data["counts"]:
        tokens = []
        for _ in range(int(count)):
            alternatives = []
            raw = gap = 0
            for j in range(alt_at, alt_at + widths[position]):
                raw = (raw + raw_column[j]) & _MASK
                final = _ZERO
                if not zero_column[j]:
                    gap = (gap + final_column[final_at]) & _MASK
                    final = (raw + gap) & _MASK
                    final_at += 1
                token_id, text = table[pair_column[j]]
                alternatives.append(Alternative(token_id, text, value[raw], value[final], names[removed_column[j]]))
            alt_at += widths[position]
            picked = picked_column[position]
            position += 1
            if picked:
                chosen = alternatives[picked - 1]
                tokens.append((chosen.token_id, chosen.text, chosen.raw_prob, chosen.final_prob, tuple(alternatives)))
            else:
                token_id, text = table[columns["token_pairs"][token_at]]
                tokens.append((token_id, text, value[columns["token_raw"][token_at]],
                               value[columns["token_final"][token_at]], tuple(alternatives)))
                token_at += 1
        out.append(tokens)
    return out
