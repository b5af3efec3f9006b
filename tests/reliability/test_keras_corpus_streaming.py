"""§3 The Keras trainer reads its corpus a piece at a time (a scratch file of cleaned text, never a whole file in
memory) and gets exactly the vocabulary and token ids that the whole texts give: character and word vocabularies,
a file long enough to be cut into many pieces, one long line with double spaces, and a folder of several files."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from scribe.training.corpus import read_corpus, scratch_store, store_corpus

WORDS = ("the", "lamp", "burned", "low", "and", "she", "wrote", "\u2019twas", "late", "9:45", "\u2014", "caf\u00e9",
         "\u201cnever,\u201d", "so", "well-known", "it", "went")


def write_corpus(folder: Path) -> None:
    rng = random.Random(7)
    folder.mkdir()
    paragraphs = ["\n".join(" ".join(rng.choice(WORDS) for _ in range(11)) for _ in range(rng.randint(1, 9)))
                  for _ in range(1500)]
    (folder / "long.txt").write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    (folder / "line.txt").write_text("  ".join(rng.choice(WORDS) for _ in range(12000)) + "\n", encoding="utf-8")
    (folder / "short.txt").write_text("A short one.\n\nWith two paragraphs.\n", encoding="utf-8")


@pytest.mark.parametrize("kind", ["char", "word"])
def test_keras_vocabulary_and_ids_are_the_whole_texts(tmp_path: Path, kind: str) -> None:
    from scribe.keras_models.trainer import _ids, _pieces
    from scribe.keras_models.vocab import char_vocab, word_vocab

    write_corpus(tmp_path / "corpus")
    texts = [d.text for d in read_corpus([tmp_path / "corpus"], join_lines=True).documents]
    assert len(texts[0]) > 3 * 16_000
    with scratch_store(tmp_path) as store:
        docs = store_corpus([tmp_path / "corpus"], store, join_lines=True).documents
        make = char_vocab if kind == "char" else (lambda texts: word_vocab(texts, 12))  # small: [UNK]s too
        vocab = make(_pieces(docs))
        assert vocab == make(texts)
        ids = _ids(docs, vocab)
    expected = np.asarray([i for text in texts for i in vocab.encode(text)], dtype=np.int32)
    assert ids.dtype == np.int32 and ids.tolist() == expected.tolist()
    assert not list(tmp_path.glob(".corpus-*"))  # the scratch file is gone


def test_a_keras_model_trains_and_is_compared_from_streamed_text(tmp_path: Path) -> None:
    """A char-LSTM trained for two steps on the corpus (no scratch file left in its job folder), then compared on two
    files: the row read from the scratch file, a document at a time, is the whole texts' score."""
    from scribe.analysis.comparison import backend_score, compare_model
    from scribe.engine.registry import load_model
    from scribe.keras_models.train_config import KerasTrainConfig
    from scribe.keras_models.trainer import KerasTrainer

    write_corpus(tmp_path / "corpus")
    files = [tmp_path / "corpus" / "short.txt", tmp_path / "corpus" / "line.txt"]
    config = KerasTrainConfig(data=[str(tmp_path / "corpus")], output=tmp_path / "lstm", arch="char-lstm",
                              preset="tiny", max_steps=2, log_every=1, sample_tokens=4, seed=1,
                              job_dir=tmp_path / "job")
    finished = KerasTrainer(config).run()
    assert finished.steps == 2 and not list((tmp_path / "job").glob(".corpus-*"))

    row = compare_model(str(tmp_path / "lstm"), files, device="cpu", speed_tokens=0, join_lines=True)
    backend = load_model(str(tmp_path / "lstm"), device="cpu")
    try:
        whole = backend_score(backend, [d.text for d in read_corpus(files, strip_gutenberg=False,
                                                                     join_lines=True).documents])
    finally:
        backend.close()
    assert (row["tokens"], row["characters"], row["loss"]) == (whole.tokens, whole.characters, whole.loss)
    assert row["characters"] > 50_000
