"""Tokenization for the Keras models: a character vocabulary, or a word vocabulary in Keras TextVectorization's order.

Both are saved as `vocab.json` next to the model. Encoding and decoding are plain Python (no TensorFlow), so the TUI
process can count tokens without loading Keras.

Word models see words, numbers, single punctuation marks and line breaks as tokens (`tokenize`). Decoding puts a space
between tokens except before closing punctuation (also closing curly quotes and the ellipsis) and line breaks, after
opening brackets, opening curly quotes and line breaks, and on either side of a dash (— and –, as printed books set
them); a straight double quote opens or closes by turns. The first token's space depends on the text it follows
(`after`), so a continuation joins its prompt naturally: `“Hi,” said he`, not `“ Hi, ” said he`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

VOCAB_FILE = "vocab.json"
WORD_PATTERN = re.compile(r"\n|[^\W\d_]+(?:['’-][^\W\d_]+)*|\d+|[^\w\s]")
"""Word-level tokens: a line break, a word (with inner apostrophes or hyphens), a number, or one other symbol."""
_NO_SPACE_BEFORE = frozenset(".,;:!?)]}%…\n”’—–")
_NO_SPACE_AFTER = frozenset("([{\n“‘—–")
PADDING, UNKNOWN = "", "[UNK]"


class VocabError(ValueError):
    """A vocabulary file that is missing, unreadable, or does not fit the model."""


def tokenize(text: str) -> list[str]:
    """Split text into word-level tokens (see WORD_PATTERN); other whitespace only separates tokens."""
    return WORD_PATTERN.findall(text)


@dataclass(frozen=True)
class Vocab:
    """Token strings by id, for `kind` "char" (one character per token) or "word" (TextVectorization order: padding
    "" at 0, "[UNK]" at 1, then by frequency)."""

    kind: Literal["char", "word"]
    tokens: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_ids", {t: i for i, t in enumerate(self.tokens)})

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def start_id(self) -> int:
        """What an empty prompt starts from: the line break when the vocabulary has one."""
        ids: dict[str, int] = self._ids  # type: ignore[attr-defined]
        return ids.get("\n", 2 if self.kind == "word" else 0)

    @property
    def banned(self) -> tuple[int, ...]:
        """Ids that are never generated: padding and the unknown token of a word vocabulary."""
        return (0, 1) if self.kind == "word" else ()

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`. Unknown words become [UNK]; characters not in a character vocabulary are left out."""
        ids: dict[str, int] = self._ids  # type: ignore[attr-defined]
        if self.kind == "char":
            return [ids[c] for c in text if c in ids]
        return [ids.get(t, 1) for t in tokenize(text)]

    def encode_pieces(self, text: str) -> tuple[list[int], list[str]]:
        """Token ids of `text` and the characters each covers (with the space or unknown characters before it, the
        last one with everything after it), so the pieces add up to `text` exactly."""
        ids: dict[str, int] = self._ids  # type: ignore[attr-defined]
        found, ends = [], []
        if self.kind == "char":
            for i, c in enumerate(text):
                if c in ids:
                    found.append(ids[c])
                    ends.append(i + 1)
        else:
            for match in WORD_PATTERN.finditer(text):
                found.append(ids.get(match.group(), 1))
                ends.append(match.end())
        if not found:
            return [], []
        ends[-1] = len(text)
        return found, [text[a:b] for a, b in zip([0, *ends[:-1]], ends)]

    def token_text(self, token_id: int) -> str:
        """One token's own text."""
        return self.tokens[token_id]

    def decode(self, ids: Sequence[int], after: str = "") -> str:
        """The text of `ids` as it continues `after` (only word spacing looks at `after`)."""
        if self.kind == "char":
            return "".join(self.tokens[i] for i in ids)
        out: list[str] = []
        previous = after[-1:]
        quote_open = after.count('"') % 2 == 1
        opened = previous == '"' and quote_open  # the text so far ends with an opening straight quote
        for i in ids:
            token = self.tokens[i]
            closing = token == '"' and quote_open
            if (previous and not previous.isspace() and previous not in _NO_SPACE_AFTER and not opened
                    and token[:1] not in _NO_SPACE_BEFORE and not closing):
                out.append(" ")
            out.append(token)
            opened = token == '"' and not quote_open
            if token == '"':
                quote_open = not quote_open
            previous = token[-1:] if token else previous
        return "".join(out)

    def save(self, folder: Path) -> None:
        """Write `vocab.json` into `folder`."""
        data = {"kind": self.kind, "size": len(self.tokens), "tokens": list(self.tokens)}
        if self.kind == "word":
            data["builder"] = "keras.layers.TextVectorization(standardize=None, split=None) adapted on tokenize(text)"
        (folder / VOCAB_FILE).write_text(json.dumps(data, ensure_ascii=False, indent=0), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "Vocab":
        """Read `vocab.json` from `folder` (VocabError saying what is wrong)."""
        path = folder / VOCAB_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise VocabError(f"{path}: missing; a Keras model folder needs the vocabulary it was trained with") from None
        except (OSError, ValueError) as exc:
            raise VocabError(f"{path}: unreadable ({exc})") from None
        tokens = data.get("tokens") if isinstance(data, dict) else None
        kind = data.get("kind") if isinstance(data, dict) else None
        if kind not in ("char", "word") or not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise VocabError(f"{path}: not a scribe vocabulary (needs kind char or word, and a list of tokens)")
        if len(set(tokens)) != len(tokens) or len(tokens) < (3 if kind == "word" else 1):
            raise VocabError(f"{path}: the token list is too short or repeats tokens")
        if kind == "word" and tokens[:2] != [PADDING, UNKNOWN]:
            raise VocabError(f"{path}: a word vocabulary starts with the padding and [UNK] tokens")
        if kind == "char" and not all(len(t) == 1 for t in tokens):
            raise VocabError(f"{path}: a character vocabulary holds single characters only")
        return cls(kind, tuple(tokens))


def char_vocab(texts: Iterable[str]) -> Vocab:
    """Every character that occurs in `texts`, sorted."""
    chars: set[str] = set()
    for text in texts:
        chars.update(text)
    return Vocab("char", tuple(sorted(chars)))


def word_vocab(texts: Iterable[str], max_tokens: int) -> Vocab:
    """The `max_tokens` most frequent word-level tokens of `texts` (padding and [UNK] included), counted as they are
    found (memory grows with the number of distinct tokens, not with the corpus), in Keras `TextVectorization`'s order:
    by count, ties by the token's UTF-8 bytes, both descending. Imports nothing heavy."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(match.group() for match in WORD_PATTERN.finditer(text))
    ranked = sorted(counts.items(), key=lambda item: (item[1], item[0].encode("utf-8")), reverse=True)
    return Vocab("word", (PADDING, UNKNOWN, *(token for token, _ in ranked[:max(max_tokens - 2, 0)])))
