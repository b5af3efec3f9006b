"""Vocabularies: encoding, spacing of word tokens, the saved file and its checks (no TensorFlow needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scribe.keras_models.vocab import Vocab, VocabError, char_vocab, tokenize


def word(*tokens: str) -> Vocab:
    return Vocab("word", ("", "[UNK]", *tokens))


def test_tokenize_splits_words_punctuation_and_line_breaks() -> None:
    assert tokenize("O Romeo, Romeo!\nWherefore art thou's 12 well-met") == [
        "O", "Romeo", ",", "Romeo", "!", "\n", "Wherefore", "art", "thou's", "12", "well-met"]


def test_char_vocab_round_trips_and_drops_unknown_characters() -> None:
    vocab = char_vocab(["hello\n", "world"])
    assert vocab.tokens == tuple(sorted(set("hello\nworld")))
    assert vocab.decode(vocab.encode("hello world")) == "helloworld"  # no space in the corpus
    assert vocab.start_id == vocab.tokens.index("\n") and vocab.banned == ()


def test_word_decode_spaces_like_text_and_joins_the_prompt() -> None:
    vocab = word("Romeo", ",", "come", "!", "\n", "(", "aside", ")")
    ids = vocab.encode("Romeo, come!\n(aside) Juliet")
    assert ids[-1] == 1  # Juliet is unknown
    assert vocab.decode(ids[:-1]) == "Romeo, come!\n(aside)"
    assert vocab.decode(vocab.encode("come"), after="O") == " come"
    assert vocab.decode(vocab.encode("come"), after="O ") == "come"
    assert vocab.decode(vocab.encode(", come"), after="Romeo") == ", come"
    assert vocab.banned == (0, 1)


def test_saved_vocabulary_reloads(tmp_path: Path) -> None:
    vocab = word("a", "b", "\n")
    vocab.save(tmp_path)
    assert Vocab.load(tmp_path) == vocab


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "missing"),
        ("{not json", "unreadable"),
        (json.dumps({"kind": "bytes", "tokens": ["a"]}), "not a scribe vocabulary"),
        (json.dumps({"kind": "char", "tokens": ["a", "a"]}), "repeats tokens"),
        (json.dumps({"kind": "word", "tokens": ["a", "b", "c"]}), "starts with the padding"),
        (json.dumps({"kind": "char", "tokens": ["ab"]}), "single characters"),
    ],
)
def test_bad_vocabulary_files_are_refused_clearly(tmp_path: Path, content: str | None, message: str) -> None:
    if content is not None:
        (tmp_path / "vocab.json").write_text(content, encoding="utf-8")
    with pytest.raises(VocabError, match=message):
        Vocab.load(tmp_path)


def test_pieces_add_up_to_the_text() -> None:
    chars = char_vocab(["abc "])
    ids, pieces = chars.encode_pieces("xab c!")
    assert ids == chars.encode("xab c!") and pieces == ["xa", "b", " ", "c!"]
    words = word("Romeo", ",", "come")
    text = "  Romeo, come\n  Juliet "
    ids, pieces = words.encode_pieces(text)
    assert ids == words.encode(text) and "".join(pieces) == text and pieces[:2] == ["  Romeo", ","]
    assert words.encode_pieces("   ") == ([], [])
