"""§3 The Keras word vocabulary is counted as the text is read (no list of every token of the corpus), and is the
vocabulary Keras' own `TextVectorization.adapt` builds from the list of tokens (the former way), token for token and
in the same order, on generated corpora full of ties, accented and non-Latin words, numbers and punctuation, for
limits below, inside and above the number of distinct tokens."""

from __future__ import annotations

import random

import pytest

from scribe.keras_models.vocab import tokenize, word_vocab

WORDS = ["the", "The", "a", "über", "Über", "café", "naïve", "дом", "Дом", "東京", "rock'n'roll", "well-met",
         "thou’rt", "x", "zz", "Z", "42", "7", "2026"]
MARKS = [",", ".", ";", "!", "?", "—", "–", "“", "”", "…", "(", ")", "\n", "\n"]


def _corpus(seed: int, documents: int) -> list[str]:
    rng = random.Random(seed)
    words = WORDS + ["".join(rng.choice("abcdéfghíjklmnöpqrstuvwxyzß") for _ in range(rng.randint(1, 6)))
                     for _ in range(300)]
    weights = [1 / (rank + 1) for rank in range(len(words))]  # Zipf-like: a long tail of ties
    texts = []
    for _ in range(documents):
        pieces = [rng.choices(words, weights)[0] if rng.random() < 0.8 else rng.choice(MARKS)
                  for _ in range(rng.randint(0, 400))]
        texts.append(rng.choice([" ", "  ", "\t"]).join(pieces))
    return texts


def _keras_vocab(texts: list[str], max_tokens: int) -> tuple[str, ...]:
    """The former `word_vocab`: every token in one list, adapted by Keras' TextVectorization."""
    from scribe.keras_models.env import import_keras

    keras = import_keras()
    import tensorflow as tf

    layer = keras.layers.TextVectorization(max_tokens=max_tokens, standardize=None, split=None, output_mode="int")
    layer.adapt(tf.data.Dataset.from_tensor_slices([t for text in texts for t in tokenize(text)]).batch(4096))
    return tuple(str(t) for t in layer.get_vocabulary())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_counted_vocabulary_is_keras_textvectorization_s(seed: int) -> None:
    texts = _corpus(seed, documents=40)
    distinct = len({t for text in texts for t in tokenize(text)})
    for max_tokens in (3, 20, 101, distinct + 2, distinct + 50):
        counted = word_vocab(iter(texts), max_tokens)  # one pass over an iterator
        assert counted.kind == "word"
        assert counted.tokens == _keras_vocab(texts, max_tokens), max_tokens
