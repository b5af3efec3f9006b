"""The word detokenizer sets Unicode punctuation as printed prose does (no `“ Hi, ” said he`)."""

from __future__ import annotations

import pytest

from scribe.keras_models.vocab import PADDING, UNKNOWN, Vocab, tokenize


def vocab_for(text: str) -> Vocab:
    tokens = [PADDING, UNKNOWN]
    tokens += [t for t in dict.fromkeys(tokenize(text)) if t not in tokens]
    return Vocab("word", tuple(tokens))


@pytest.mark.parametrize("text", [
    "“Hi,” said he.",
    "‘Yes,’ she said, ‘it is.’",
    "He paused—and then went on… slowly.",
    "pages 10–12 (see above)",
    '"Fine," she said. "Come in."',
    "He said: “Well—I don’t know…”",
])
def test_decoding_the_tokens_of_prose_gives_the_prose_back(text: str) -> None:
    vocab = vocab_for(text)
    assert vocab.decode(vocab.encode(text)) == text


def test_a_continuation_after_an_open_straight_quote_closes_it() -> None:
    vocab = vocab_for('"Fine," she said.')
    assert vocab.decode(vocab.encode('Fine,"'), after='He said "') == 'Fine,"'
    assert vocab.decode(vocab.encode('"Fine,"'), after="He said") == ' "Fine,"'
