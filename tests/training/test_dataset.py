"""The split (by document, by paragraph-aligned chunk for one file), the character tokenizer, and the token cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scribe.training.corpus import Document, character_count, stage
from scribe.training.dataset import (
    cached_bpe,
    char_tokenizer,
    chunk_document,
    encode_documents,
    split_corpus,
    tokenizer_fingerprint,
)


def paragraphs(n: int) -> str:
    return "".join(f"Paragraph {i} begins here.\nIt goes on for a second line, number {i}.\n\n" for i in range(n))


def test_one_file_is_split_into_paragraph_chunks_with_a_fixed_seed() -> None:
    text = paragraphs(2000)
    doc = Document(Path("novel.txt"), text)
    train, val = split_corpus([doc], 0.1, seed=3)

    assert 0.09 <= sum(len(d.text) for d in val) / len(text) <= 0.13
    pieces = train + val
    assert sorted(text.index(d.text) for d in pieces) == sorted({text.index(d.text) for d in pieces})
    assert sum(len(d.text) for d in pieces) == len(text)
    for d in pieces:  # every piece starts and ends on a paragraph boundary
        assert d.text.startswith("Paragraph ") and d.text.endswith("\n\n")
    assert len(val) > 1  # several chunks from different places, not one tail
    assert split_corpus([doc], 0.1, seed=3) == (train, val)
    assert split_corpus([doc], 0.1, seed=4)[1] != val


def test_chunks_fall_back_to_line_breaks_without_paragraphs() -> None:
    text = "".join(f"line {i}\n" for i in range(5000))
    chunks = chunk_document(Document(Path("a.txt"), text), 2000)
    assert "".join(c.text for c in chunks) == text
    assert all(c.text.endswith("\n") and len(c.text) >= 2000 for c in chunks[:-1])


def test_several_files_are_split_by_file() -> None:
    docs = [Document(Path(f"{i}.txt"), paragraphs(20)) for i in range(20)]
    train, val = split_corpus(docs, 0.1, seed=0)
    assert {d.path for d in train}.isdisjoint({d.path for d in val}) and len(train) + len(val) == 20


def test_a_tiny_single_file_cannot_be_split() -> None:
    with pytest.raises(ValueError, match="too little text"):
        split_corpus([Document(Path("tiny.txt"), "Just one line.\n")], 0.1, seed=0)


def test_character_tokenizer_round_trips_and_loads_in_transformers(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    text = "First Citizen:\nBefore we proceed, caf\u00e9 \u2014 hear me.\n\n"
    tokenizer = char_tokenizer([Document(Path("a.txt"), text)])
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == len(text) and tokenizer.decode(ids) == text
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert len(loaded) == len(set(text)) + 1 and loaded.decode(loaded(text)["input_ids"]) == text
    assert loaded("\u00e9Z", add_special_tokens=False)["input_ids"][1] == loaded.eos_token_id  # unknown character


def test_a_second_encoding_reads_the_cache(bare_tokenizer_dir: Path, tmp_path: Path) -> None:
    from scribe.training.bpe import load_tokenizer

    tokenizer = load_tokenizer(bare_tokenizer_dir)
    eos = tokenizer.eos_token_id
    docs = [Document(Path("a.txt"), "Hello world. " * 50), Document(Path("b.txt"), "Another text, another day.\n")]
    first = encode_documents(docs, tokenizer, tmp_path)
    assert (first.cached, first.tokenized) == (0, 2)
    total = len(docs[0].text) + len(docs[1].text)
    assert stage()[0] == f"tokenised {total:,} of {total:,} characters"  # the progress line, in a unit that shows
    expected = [*tokenizer(docs[0].text)["input_ids"], eos, *tokenizer(docs[1].text)["input_ids"], eos]
    assert first.ids.tolist() == expected

    second = encode_documents(docs, tokenizer, tmp_path)
    assert (second.cached, second.tokenized) == (2, 0) and second.ids.tolist() == expected

    # proof that the tokens come from the cache files: change one, and the next run returns what it holds
    [b_file] = [p for p in (tmp_path / "tokens" / tokenizer_fingerprint(tokenizer)).iterdir()
                if np.load(p).tolist() == tokenizer(docs[1].text)["input_ids"]]
    np.save(b_file, np.array([7, 8, 9], dtype=np.int32))
    assert encode_documents(docs, tokenizer, tmp_path).ids.tolist()[-4:] == [7, 8, 9, eos]

    changed = [docs[0], Document(Path("b.txt"), "Edited text.\n")]
    third = encode_documents(changed, tokenizer, tmp_path)
    assert (third.cached, third.tokenized) == (1, 1)


def test_progress_counts_characters_in_the_unit_the_total_needs() -> None:
    assert character_count(650) == "650 characters"
    assert character_count(30_000, 65_432) == "30,000 of 65,432 characters"
    assert character_count(2_500_000) == "2.5 million characters"
    assert character_count(400_000, 62_100_000) == "0.4 of 62.1 million characters"


def test_a_trained_bpe_is_cached_by_its_training_text(tmp_path: Path) -> None:
    docs = [Document(Path("a.txt"), paragraphs(200))]
    first = cached_bpe(docs, 300, tmp_path)
    [folder] = (tmp_path / "tokenizers").iterdir()
    second = cached_bpe(docs, 300, tmp_path)
    assert tokenizer_fingerprint(first) == tokenizer_fingerprint(second) and len(second) == 300
    assert list((tmp_path / "tokenizers").iterdir()) == [folder]
    cached_bpe(docs, 320, tmp_path)
    assert len(list((tmp_path / "tokenizers").iterdir())) == 2
