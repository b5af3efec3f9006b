"""Charging the characters a model does not predict, so bits per character stay comparable across tokenizers.

A word model with a closed vocabulary reads every word it does not know as one `[UNK]` token, and a character model
leaves out characters missing from its vocabulary. Scored as they are, such a model pays only for "some unknown
word" and nothing for its letters, and can beat a subword model that spells every character. Here the characters
that no token of the model stands for are charged by a character-level model made from the model's own vocabulary
(`SpellingModel`): a unigram over the characters of its tokens, each seen character counted once more (add-one), one
extra share for any other character (then spelled as UTF-8 bytes, uniform over 256 values), and an end-of-word symbol
whose probability is one over the mean token length plus one. The word model's score becomes the probability of
`[UNK]` times the probability of the spelling: a real (if crude) model of the text, never a flattering one.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

UNKNOWN_TOKENS = frozenset({"[UNK]", "<unk>", "<|unk|>"})
"""Token texts that stand for a word the vocabulary does not have."""


@dataclass(frozen=True)
class SpellingModel:
    """Log-probabilities (nats) of spelling a word character by character."""

    char_logp: dict[str, float]
    other_logp: float
    """Any character not seen in the vocabulary: its share, before its bytes are spelled."""
    end_logp: float
    go_on_logp: float

    @classmethod
    def from_tokens(cls, tokens: Iterable[str]) -> "SpellingModel":
        """The unigram spelling model of the characters of `tokens` (special and unknown tokens ignored)."""
        words = [t for t in tokens if t.strip() and t not in UNKNOWN_TOKENS and not t.startswith("<|")]
        counts = Counter(c for word in words for c in word)
        total = sum(counts.values()) + len(counts) + 1
        mean_length = sum(len(w) for w in words) / len(words) if words else 5.0
        end = 1.0 / (mean_length + 1.0)
        return cls({c: math.log((n + 1) / total) for c, n in counts.items()}, math.log(1 / total), math.log(end),
                   math.log(1.0 - end))

    def nats(self, word: str) -> float:
        """The cost of spelling `word` and ending it."""
        cost = -self.end_logp
        for c in word:
            logp = self.char_logp.get(c)
            if logp is None:
                logp = self.other_logp - len(c.encode("utf-8")) * math.log(256)
            cost -= self.go_on_logp + logp
        return cost


def unpredicted(piece: str, token_text: str) -> str:
    """The characters of `piece` (the text one token covers) that the token itself does not stand for: all of them
    for an unknown-word token, else those around the token's own text (characters a vocabulary left out)."""
    if token_text in UNKNOWN_TOKENS or not token_text:
        return piece
    return piece.replace(token_text, "", 1)
