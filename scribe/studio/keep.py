"""Where keeping part of a continuation ends: after the next word, or after the next sentence."""

from __future__ import annotations

import re

_WORD = re.compile(r"\s*\S+")
_SENTENCE = re.compile(r".*?(?:[.!?…]+[\"'”’)\]]*(?=\s|$)|\n\s*\n)", re.DOTALL)
"""A sentence ends at . ! ? or … (and any closing quotes or brackets) before a space, or at a paragraph break."""


def word_end(text: str) -> int:
    """The length of `text`'s first word with the spaces before it (the whole text when it has no word)."""
    match = _WORD.match(text)
    return match.end() if match else len(text)


def sentence_end(text: str) -> int:
    """The length of `text`'s first sentence (the whole text when no sentence ends in it)."""
    match = _SENTENCE.match(text)
    return match.end() if match else len(text)
