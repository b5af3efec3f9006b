"""Counting the tokens of long texts by their pieces, for byte-level BPE tokenizers (GPT-2's and Llama 3's kind).

Such a tokenizer (no normalizer; a regular expression cuts the text into pieces, each then encoded by BPE on its own)
gives a text as many tokens as its pieces give, each encoded alone. A writer's chapter of 100,000 words has only a
few thousand distinct pieces (a word with the space before it, a run of punctuation, of newlines), so a `PieceCounter`
cuts texts into pieces with Python's `re` (the tokenizer's expression rewritten for the characters of `LATIN`, on
which both engines match alike), adds up the counts it remembers and asks the tokenizer's BPE model only about pieces
it has not seen: a chapter is counted several times faster than by encoding it. The rewritten expression is checked
against the tokenizer's own pre-tokenizer, and the model's counts against the tokenizer's, on a probe text when the
counter is made. A text with other characters (Greek, Chinese, emoji) or with an added token's text (`<|endoftext|>`)
is encoded whole, as is every text of a tokenizer of another kind.
"""

from __future__ import annotations

import json
import re
import string
import threading
import unicodedata
from collections.abc import Iterable
from typing import Any

GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
"""The expression of a ByteLevel pre-tokenizer with `use_regex` (the tokenizers library's own)."""
LATIN = (0x0000, 0x024F), (0x2000, 0x206F)
"""The characters of texts counted by pieces: ASCII, the Latin letters with accents (Latin-1 Supplement, Latin
Extended-A and -B) and General Punctuation (curly quotes, dashes, the ellipsis), whose letters, digits and spaces have
stayed the same across Unicode versions: Python's and the tokenizer's expressions agree on them."""
_OUTSIDE_LATIN = re.compile("[^" + "".join(f"\\u{a:04x}-\\u{b:04x}" for a, b in LATIN) + "]").search
_SPACES = [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F]
"""Unicode's white space among them (Python's `\\s` adds \\x1c-\\x1f, which Unicode does not)."""


def _class(codes: Iterable[int]) -> str:
    """The characters `codes` as the inside of a bracket: runs as ranges, each character escaped."""
    out: list[str] = []
    run: list[int] = []
    for code in sorted(codes):
        if run and code == run[-1] + 1:
            run.append(code)
            continue
        if run:
            out.append(f"\\u{run[0]:04x}-\\u{run[-1]:04x}")
        run = [code]
    if run:
        out.append(f"\\u{run[0]:04x}-\\u{run[-1]:04x}")
    return "".join(out)


def _latin_of(kind: str) -> str:
    return _class(code for a, b in LATIN for code in range(a, b + 1) if unicodedata.category(chr(code))[0] == kind)


_SPACE_CLASS = _class(_SPACES)
_CLASSES = {r"\p{L}": _latin_of("L"), r"\p{N}": _latin_of("N"), r"\s": _SPACE_CLASS}
_TOKEN = re.compile(r"\\p\{\w+\}|\\.|\[\^?|\]|[^\\\[\]]+", re.S)
PROBE = ("It's  the 1843 night -- she'll say \"No!\"\n\n  He'd gone; they're (quietly) off...\tX\r\n\n\n"
         "OK'S   ok'Ll 12345 a1b2 __init__ x\x0b\x0cy \x1c\x1d z  \n \n" + string.printable + "\n  "
         "\u201cCafé,\u201d she said\u2014naïve ½ ²³ x\xa0y\u2019s \u2018it\u2019ll\u2019 \x85 \u2003 \u200b "
         "Ærø ŁÓDŹ ǅ ȸ ªº µ ß 'ſ 'ſt \u2026\u2028\u2029 \u202f\u205f\u2060 \x7f\x80 end.  ")
"""A probe text on which the rewritten expression must cut as the tokenizer does (all printable ASCII and the
special cases of the Latin ranges among it)."""


def _byte_level() -> dict[int, str]:
    """GPT-2's bytes-to-unicode table, as byte-level BPE spells bytes: printable ones stay, the others are moved past
    255 in byte order."""
    kept = [*range(33, 127), *range(161, 173), *range(174, 256)]
    moved = [byte for byte in range(256) if byte not in kept]
    return {**{byte: chr(byte) for byte in kept}, **{byte: chr(256 + i) for i, byte in enumerate(moved)}}


BYTE_LEVEL = _byte_level()
PIECES_LIMIT = 500_000
"""Distinct pieces remembered per tokenizer (a few bytes each); past it they are forgotten and counted again."""


def latin_pattern(pattern: str) -> str | None:
    """`pattern` (a tokenizer's expression, Oniguruma syntax) rewritten for Python's `re` on texts of `LATIN`
    characters, or None when it uses what this rewriting does not know (other Unicode classes, `\\S` in a bracket)."""
    out: list[str] = []
    depth = 0
    for token in _TOKEN.findall(pattern):
        if token.startswith("["):
            depth += 1
            out.append(token)
        elif token == "]" and depth:
            depth -= 1
            out.append(token)
        elif token in _CLASSES:
            out.append(_CLASSES[token] if depth else f"[{_CLASSES[token]}]")
        elif token == r"\S" and not depth:
            out.append(f"[^{_SPACE_CLASS}]")
        elif token.startswith("\\") and token[1:] not in ("r", "n", "t") and not (len(token) == 2 and
                                                                                 not token[1].isalnum()):
            return None
        else:
            out.append(token)
    return "".join(out) if depth == 0 else None


def _split_pattern(tokenizer: Any) -> str | None:
    """The expression that cuts texts into pieces encoded apart, when the tokenizer is of the kind counted by pieces
    (read from its parts: serialising the whole tokenizer would copy its vocabulary)."""
    model = tokenizer.model
    if (tokenizer.normalizer is not None or tokenizer.pre_tokenizer is None or type(model).__name__ != "BPE"
            or getattr(model, "dropout", None)):
        return None
    pre = json.loads(tokenizer.pre_tokenizer.__getstate__())
    if pre.get("type") == "ByteLevel" and pre.get("use_regex", True) and not pre.get("add_prefix_space"):
        return GPT2_PATTERN
    steps = pre.get("pretokenizers") if pre.get("type") == "Sequence" else None
    if not steps or len(steps) != 2:
        return None
    split, byte_level = steps
    regex = (split.get("pattern") or {}).get("Regex")
    if (split.get("type") == "Split" and regex and split.get("behavior") == "Isolated" and not split.get("invert")
            and byte_level.get("type") == "ByteLevel" and not byte_level.get("use_regex", True)
            and not byte_level.get("add_prefix_space")):
        return regex
    return None


class PieceCounter:
    """Token counts of texts (`add_special_tokens` as asked), by pieces when the tokenizer allows (see the module
    doc), else by encoding each text; thread-safe."""

    def __init__(self, tokenizer: Any, *, add_special_tokens: bool = True) -> None:
        self._tokenizer = tokenizer
        self._special = add_special_tokens
        self._extra = tokenizer.num_special_tokens_to_add(False) if add_special_tokens else 0
        self._pieces: dict[str, int] = {}
        self._lock = threading.Lock()
        pattern = _split_pattern(tokenizer)
        rewritten = latin_pattern(pattern) if pattern is not None else None
        cuts = rewritten is not None and self._cuts_as_the_tokenizer(rewritten)
        self._findall = re.compile(rewritten).findall if cuts and rewritten is not None else None
        added = tokenizer.get_added_tokens_decoder().values()
        self._guards = tuple({token.content[:2] for token in added if token.content})
        self._by_model = self._findall is not None and self._model_counts_alike()

    @property
    def by_pieces(self) -> bool:
        """True when ASCII texts are counted by pieces."""
        return self._findall is not None

    def _cuts_as_the_tokenizer(self, pattern: str) -> bool:
        expected = [span for _, span in self._tokenizer.pre_tokenizer.pre_tokenize_str(PROBE)]
        return [m.span() for m in re.finditer(pattern, PROBE)] == expected

    def _model_counts_alike(self) -> bool:
        """True when the BPE model, given a piece spelt as byte-level BPE spells it, gives the tokens the whole
        tokenizer gives the piece (then new pieces are encoded without building an encoding each)."""
        pieces = self._findall(PROBE)  # type: ignore[misc]
        return self._encode_pieces(pieces, by_model=True) == self._encode_pieces(pieces, by_model=False)

    def _encode_pieces(self, pieces: list[str], *, by_model: bool) -> list[int]:
        if by_model:
            tokenize = self._tokenizer.model.tokenize
            return [len(tokenize(piece.encode("utf-8").decode("latin-1").translate(BYTE_LEVEL))) for piece in pieces]
        return [len(encoding) for encoding in self._tokenizer.encode_batch_fast(pieces, add_special_tokens=False)]

    def count(self, texts: list[str]) -> list[int]:
        """The tokens of each text."""
        counts: list[int | None] = [None] * len(texts)
        whole: list[int] = []
        cut: list[tuple[int, list[str]]] = []
        findall, guards = self._findall, self._guards
        for i, text in enumerate(texts):
            if (findall is not None and (text.isascii() or not _OUTSIDE_LATIN(text))
                    and not any(guard in text for guard in guards)):
                cut.append((i, findall(text)))
            else:
                whole.append(i)
        if cut:
            with self._lock:
                known = self._pieces
                new = list(set().union(*(pieces for _, pieces in cut)).difference(known))
                if len(known) + len(new) > PIECES_LIMIT:
                    known = self._pieces = {}
                    new = list(set().union(*(pieces for _, pieces in cut)))
                known.update(zip(new, self._encode_pieces(new, by_model=self._by_model)))
                for i, pieces in cut:
                    counts[i] = sum(map(known.__getitem__, pieces)) + self._extra
        if whole:
            encoded = self._tokenizer.encode_batch_fast([texts[i] for i in whole], add_special_tokens=self._special)
            for i, encoding in zip(whole, encoded):
                counts[i] = len(encoding)
        return counts  # type: ignore[return-value]
