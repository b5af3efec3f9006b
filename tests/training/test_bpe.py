"""Tokenizer training on a small slice, saved and reloaded with plain transformers."""

from __future__ import annotations

from pathlib import Path

import pytest

from scribe.training.bpe import EOS, load_tokenizer, train_bpe
from scribe.training.corpus import Document


@pytest.fixture(scope="module")
def slice_docs(shakespeare_text: str) -> list[Document]:
    text = shakespeare_text[:200_000]
    return [Document(Path("input.txt"), text)]


def test_trained_tokenizer_round_trips_and_reloads(slice_docs: list[Document], tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = train_bpe(slice_docs, vocab_size=600)
    tokenizer.save_pretrained(tmp_path)
    assert {"tokenizer.json", "tokenizer_config.json"} <= {p.name for p in tmp_path.iterdir()}

    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert len(loaded) == 600
    assert loaded.eos_token == loaded.bos_token == EOS
    text = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nCaf\u00e9 \u201cna\u00efve\u201d \u2014 \U0001f600"
    ids = loaded(text, add_special_tokens=False)["input_ids"]
    assert loaded.decode(ids) == text
    english = "Before we proceed any further, hear me speak."
    assert len(loaded(english)["input_ids"]) < len(english) / 2  # merges were learned (bytes alone would be 45)
    assert loaded.convert_ids_to_tokens(loaded(" the")["input_ids"]) == ["\u0120the"]


def test_vocab_size_too_small(slice_docs: list[Document]) -> None:
    with pytest.raises(ValueError, match="at least 257"):
        train_bpe(slice_docs, vocab_size=100)


def test_reusing_a_bare_gpt2_tokenizer_folder(bare_tokenizer_dir: Path, tiny_tokenizer_dir: Path,
                                              tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    assert {p.name for p in bare_tokenizer_dir.iterdir()} == {"vocab.json", "merges.txt"}
    tokenizer = load_tokenizer(bare_tokenizer_dir)
    source = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    assert len(tokenizer) == len(source) and tokenizer.eos_token == EOS
    text = "Hello world, good citizens"
    assert tokenizer(text)["input_ids"] == source(text)["input_ids"]
    assert len(tokenizer(text)["input_ids"]) < len(text.encode()) / 2  # the merges were read, not just the bytes
    with pytest.raises(FileNotFoundError):
        load_tokenizer(tmp_path / "missing")
    with pytest.raises(ValueError, match="not a tokenizer folder"):
        load_tokenizer(tmp_path)
