"""§3 Corpora of any size are read and tokenised a piece at a time: the pieces give exactly the text the whole-file
cleaning gives (Gutenberg markers, line joining, encodings, line endings, one very long line), the on-disk documents
split and tokenise exactly as the in-memory ones, and preparing a generated corpus needs no more than twice the memory
of its token array (tracemalloc)."""

from __future__ import annotations

import codecs
import random
import tracemalloc
from pathlib import Path

import pytest

from scribe.training import corpus as corpus_module
from scribe.training.corpus import (
    Document,
    StoredDocument,
    clean,
    cleaned,
    cut_pieces,
    read_corpus,
    sniff_encoding,
    store_corpus,
)
from scribe.training.dataset import chunk_document, encode_documents, split_corpus

REPO = Path(__file__).resolve().parents[2]
WORDS = ("the", "writer", "kept", "a", "lamp", "by", "window", "and", "rain", "\u2019twas", "\u201cnever\u201d", "so",
         "late", "to-", "morrow", "--", "who", "said", "it", "was", "cold", "\u2014", "caf\u00e9")


def generated_text(seed: int, paragraphs: int = 120) -> str:
    """Text with every shape the cleaner treats differently: wrapped prose at several widths, verse, indented and
    tabled blocks, blank lines holding spaces or tabs, form feeds, CRLF and CR line ends, trailing spaces, and
    Project Gutenberg markers (sometimes several, sometimes none)."""
    rng = random.Random(seed)
    out: list[str] = []
    if rng.random() < 0.7:
        out.append("The Project Gutenberg eBook of Something\nheader text\n\n*** START OF THE PROJECT GUTENBERG EBOOK X ***")
    for _ in range(paragraphs):
        kind = rng.random()
        width = rng.choice((40, 60, 70, 75))
        words = [rng.choice(WORDS) for _ in range(rng.randint(1, 90))]
        if kind < 0.55:  # wrapped prose
            lines, line = [], ""
            for word in words:
                if line and len(line) + 1 + len(word) > width:
                    lines.append(line)
                    line = word
                else:
                    line = f"{line} {word}".strip()
            lines.append(line)
            indent = rng.choice(("", "", "    "))
            block = "\n".join(indent + text + rng.choice(("", "", "  ")) for text in lines)
        elif kind < 0.75:  # verse or a list
            block = "\n".join("  " * rng.randint(0, 2) + " ".join(words[i:i + 5]) for i in range(0, len(words), 5))
        elif kind < 0.85:  # a table
            block = "\n".join(f"{w:<10}    {i}" for i, w in enumerate(words[:6]))
        else:  # a heading, maybe a lone form feed
            block = rng.choice(("CHAPTER I", "\f", "   III.", "\u00a0", "*   *   *"))
        out.append(block)
        out.append(rng.choice(("\n\n", "\n\n\n", "\n  \n", "\n\t\n\n", "\n", "\n \n \n")))
    if rng.random() < 0.6:
        out.append(rng.choice(("\n  \n", "\n")) + "*** END OF THE PROJECT GUTENBERG EBOOK X ***\nlicence text\n")
    text = "".join(out)
    return rng.choice((text, text.replace("\n", "\r\n"), text.replace("\n", "\r")))


@pytest.fixture
def tiny_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read files a few bytes at a time and cut long lines early, so that every cut the pieces make is exercised."""
    monkeypatch.setattr(corpus_module, "READ_BYTES", 37)
    monkeypatch.setattr(corpus_module, "_LINE_LIMIT", 300)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize(("gutenberg", "join_lines"), [(True, False), (True, True), (False, True), (False, False)])
def test_the_pieces_are_exactly_the_whole_file_cleaned(tmp_path: Path, tiny_reads: None, seed: int, gutenberg: bool,
                                                       join_lines: bool) -> None:
    text = generated_text(seed)
    file = tmp_path / "book.txt"
    file.write_bytes(text.encode("utf-8"))
    expected = clean(text, gutenberg=gutenberg, join_lines=join_lines)
    pieces = list(cleaned(file, "utf-8", gutenberg=gutenberg, join_lines=join_lines))
    assert "".join(pieces) == expected
    if join_lines:  # paragraphs come one run at a time, not all at once
        assert len(pieces) > 10


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "tests" / "data" / "gutenberg").glob("*.txt")))
@pytest.mark.parametrize("join_lines", [False, True])
def test_real_gutenberg_files_clean_the_same_in_pieces(tmp_path: Path, tiny_reads: None, name: str,
                                                       join_lines: bool) -> None:
    file = REPO / "tests" / "data" / "gutenberg" / name
    encoding = sniff_encoding(file)
    whole = file.read_bytes().decode("utf-8-sig" if encoding.startswith("utf-8") else encoding)
    assert "".join(cleaned(file, encoding, join_lines=join_lines)) == clean(whole, join_lines=join_lines)


@pytest.mark.parametrize(("encoding", "prefix"), [("utf-8", b""), ("utf-8-sig", codecs.BOM_UTF8),
                                                  ("utf-16", b""), ("cp1252", b"")])
def test_encodings_are_found_and_decoded_across_read_boundaries(tmp_path: Path, tiny_reads: None, encoding: str,
                                                                prefix: bytes) -> None:
    text = generated_text(3).replace("\u00a0", " ")
    file = tmp_path / "book.txt"
    file.write_bytes(prefix + text.encode(encoding))
    assert sniff_encoding(file) == encoding
    assert "".join(cleaned(file, encoding, join_lines=True)) == clean(text, join_lines=True)


def test_one_very_long_line_is_read_in_pieces(tmp_path: Path, tiny_reads: None) -> None:
    text = " ".join(random.Random(1).choice(WORDS) for _ in range(5000)) + ".\n"
    file = tmp_path / "line.txt"
    file.write_text(text, encoding="utf-8")
    pieces = list(cleaned(file, "utf-8"))
    assert "".join(pieces) == text and len(pieces) > 50
    [doc] = store_corpus([file], tmp_path / "store.txt").documents
    train, val = split_corpus([doc], 0.1, seed=0)
    assert train and val


@pytest.mark.parametrize("join_lines", [False, True])
def test_stored_documents_split_and_tokenise_like_documents_in_memory(tmp_path: Path, bare_tokenizer_dir: Path,
                                                                      join_lines: bool) -> None:
    from scribe.training.bpe import load_tokenizer

    folder = tmp_path / "corpus"
    folder.mkdir()
    for seed in range(3):
        (folder / f"{seed}.txt").write_text(generated_text(seed, 400), encoding="utf-8")
    (folder / "binary.dat").write_bytes(b"text\x00more")
    memory = read_corpus([folder], join_lines=join_lines)
    stored = store_corpus([folder], tmp_path / "store.txt", join_lines=join_lines)
    assert all(isinstance(d, StoredDocument) for d in stored.documents)
    assert [("".join(d.pieces()), d.encoding, d.digest) for d in stored.documents] == \
        [(d.text, d.encoding, d.digest) for d in memory.documents]
    assert stored.skipped == memory.skipped and stored.characters == memory.characters

    for in_memory, on_disk in ((memory.documents, stored.documents), (memory.documents[:1], stored.documents[:1])):
        (train_m, val_m), (train_s, val_s) = split_corpus(in_memory, 0.1, 5), split_corpus(on_disk, 0.1, 5)
        assert ["".join(d.pieces()) for d in train_s + val_s] == [d.text for d in train_m + val_m]
        assert [d.characters for d in train_s] == [len(d.text) for d in train_m]
    chunks = chunk_document(stored.documents[0], 2000)
    assert ["".join(c.pieces()) for c in chunks] == [c.text for c in chunk_document(memory.documents[0], 2000)]

    tokenizer = load_tokenizer(bare_tokenizer_dir)
    from_memory = encode_documents(memory.documents, tokenizer, None)
    from_disk = encode_documents(stored.documents, tokenizer, tmp_path / "cache")
    assert from_disk.ids.tolist() == from_memory.ids.tolist()
    again = encode_documents(stored.documents, tokenizer, tmp_path / "cache")
    assert (again.cached, again.tokenized) == (3, 0) and again.ids.tolist() == from_memory.ids.tolist()


@pytest.fixture(scope="module")
def blank_space_bpe():  # noqa: ANN201 - a transformers tokenizer
    """A byte-level BPE trained on the generated texts: it has tokens for runs of blank space (`\n\n`, `  `)."""
    from scribe.training.bpe import train_bpe

    texts = [generated_text(seed, 300) for seed in range(4)] + [clean(generated_text(9, 300), join_lines=True)]
    return train_bpe([Document(Path("t.txt"), "\n\n".join(texts))], vocab_size=600)


@pytest.mark.parametrize("size", [40, 300, 2000])
def test_pieces_tokenise_exactly_as_the_whole_text(blank_space_bpe, size: int) -> None:  # noqa: ANN001
    """Cut anywhere the cutter chooses, a GPT-2 byte-level BPE and the word tokenizer give the whole text's tokens
    (blank space runs around cuts, `\n\n` before a word, long lines with double spaces and no line break)."""
    from scribe.keras_models.vocab import tokenize

    tokenizer = blank_space_bpe
    assert {"\u010a\u010a", "\u0120\u0120"} <= set(tokenizer.get_vocab())  # `\n\n` and two spaces are tokens
    rng = random.Random(size)
    line = " ".join(rng.choice(WORDS + ("", " ", "\t")) for _ in range(3000))
    for text in (generated_text(size, 300), clean(generated_text(size + 1, 300), join_lines=True), line):
        pieces = list(cut_pieces(iter((text,)), size))
        assert "".join(pieces) == text and len(pieces) > 5
        ids = [i for piece in pieces for i in tokenizer(piece, add_special_tokens=False)["input_ids"]]
        assert ids == tokenizer(text, add_special_tokens=False)["input_ids"]
        assert [t for piece in pieces for t in tokenize(piece)] == tokenize(text)


def test_a_damaged_token_cache_file_is_made_again(tmp_path: Path, bare_tokenizer_dir: Path) -> None:
    from scribe.training.bpe import load_tokenizer

    tokenizer = load_tokenizer(bare_tokenizer_dir)
    docs = [Document(Path("a.txt"), "Hello world, hello again.\n" * 40)]
    first = encode_documents(docs, tokenizer, tmp_path)
    [file] = (tmp_path / "tokens").rglob("*.npy")
    file.write_bytes(file.read_bytes()[:-6])  # a crash in the middle of a write that was not atomic
    second = encode_documents(docs, tokenizer, tmp_path)
    assert (second.cached, second.tokenized) == (0, 1) and second.ids.tolist() == first.ids.tolist()


def test_preparing_a_corpus_needs_at_most_twice_its_token_array(tmp_path: Path) -> None:
    """A generated 8 MB corpus (one file, smart quotes: decoded whole it would take two bytes a character) read,
    split and tokenised with a BPE of 2,000 tokens: the peak of Python and numpy allocations (tracemalloc) stays
    within twice the final token arrays."""
    import torch  # noqa: F401 - imported before measuring, as in a training job

    from scribe.training.bpe import train_bpe

    rng = random.Random(0)
    paragraphs = [generated_text(seed, 40) for seed in range(60)]
    file = tmp_path / "big.txt"
    with open(file, "w", encoding="utf-8") as out:
        while out.tell() < 8_000_000:
            out.write(rng.choice(paragraphs).replace("***", "") + "\n\n")
    tokenizer = train_bpe([Document(file, "".join(paragraphs[:20]))], vocab_size=2000)

    tracemalloc.start()
    try:
        stored = store_corpus([file], tmp_path / "store.txt", join_lines=True)
        train_docs, val_docs = split_corpus(stored.documents, 0.1, seed=0)
        train = encode_documents(train_docs, tokenizer, tmp_path / "cache")
        val = encode_documents(val_docs, tokenizer, tmp_path / "cache")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    tokens = train.ids.numel() * 4 + val.ids.numel() * 4
    assert tokens > 1_000_000  # a real token array: the bound below is not met by a tiny one
    assert peak <= 2 * tokens, f"peak {peak / 1e6:.1f} MB for {tokens / 1e6:.1f} MB of tokens"
