"""§3 Corpus inputs: a NUL byte anywhere marks a file binary (one line); a Western file with Windows smart quotes and
dashes is read as cp1252 and the model card names each file's encoding; a corpus of one very long line is split at
sentence or word boundaries, not refused as too little text."""

from __future__ import annotations

from pathlib import Path

import pytest

from scribe.training.corpus import Document, Skipped, read_corpus, read_document
from scribe.training.dataset import MIN_CHUNK_CHARS, chunk_document, split_corpus

REPO = Path(__file__).resolve().parents[2]
PROSE = (REPO / "tests" / "data" / "tinyshakespeare.txt").read_text(encoding="utf-8")[:20_000]


@pytest.mark.parametrize("offset", [0, 100, 9_000, 19_999])
def test_a_nul_byte_anywhere_marks_a_corpus_file_binary(tmp_path: Path, offset: int) -> None:
    data = PROSE.encode("utf-8")
    file = tmp_path / "notes.txt"
    file.write_bytes(data[:offset] + b"\x00" + data[offset:])
    item = read_document(file)
    assert isinstance(item, Skipped) and item.reason.startswith("binary file (a NUL byte at offset ")
    assert f"{offset:,}" in item.reason and len(item.reason.splitlines()) == 1


WESTERN = [
    "\u201cWell,\u201d she said \u2014 it\u2019s late.\n",
    PROSE[:3000].replace("'", "\u2019").replace("--", "\u2014"),
    "Caf\u00e9 \u2018au lait\u2019 \u2013 \u20ac3\u2026 na\u00efve \u201cr\u00e9sum\u00e9\u201d.\n" * 5,
]


@pytest.mark.parametrize("text", WESTERN, ids=["short", "prose", "accents"])
def test_a_western_file_with_smart_quotes_is_read_as_cp1252(tmp_path: Path, text: str) -> None:
    file = tmp_path / "western.txt"
    file.write_bytes(text.encode("cp1252"))
    item = read_document(file)
    assert isinstance(item, Document) and item.encoding == "cp1252" and item.text == text.strip() + "\n"


def test_a_central_european_file_keeps_its_code_page(tmp_path: Path) -> None:
    text = "Zażółć gęślą jaźń, powiedział \u201eon\u201d \u2014 i poszedł do domu przez łąkę. " * 30
    file = tmp_path / "polish.txt"
    file.write_bytes(text.encode("cp1250"))
    item = read_document(file)
    assert isinstance(item, Document) and item.encoding == "cp1250" and "Zażółć" in item.text


def test_each_file_s_encoding_is_recorded(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(WESTERN[1].encode("cp1252"))
    (tmp_path / "b.txt").write_bytes(b"\xef\xbb\xbf" + PROSE[:2000].encode("utf-8"))
    (tmp_path / "c.txt").write_text(PROSE[2000:4000], encoding="utf-16")
    (tmp_path / "d.txt").write_text(PROSE[4000:6000], encoding="utf-8")
    corpus = read_corpus([tmp_path])
    assert [(d.path.name, d.encoding) for d in corpus.documents] == [
        ("a.txt", "cp1252"), ("b.txt", "utf-8-sig"), ("c.txt", "utf-16"), ("d.txt", "utf-8")]


@pytest.mark.parametrize("sentences", [True, False], ids=["sentences", "words only"])
def test_a_corpus_of_one_very_long_line_is_split(tmp_path: Path, sentences: bool) -> None:
    words = ["".join(c for c in w if c.isalpha()) or "and" for w in PROSE.split()] * 3
    groups = [" ".join(words[i:i + 12]) for i in range(0, len(words), 12)]
    file = tmp_path / "one-line.txt"
    file.write_bytes(((". " if sentences else " ").join(groups) + "\n").encode("cp1252"))
    [doc] = read_corpus([file]).documents
    assert doc.text.count("\n") == 1 and len(doc.text) > 40_000
    train, val = split_corpus([doc], 0.1, seed=0)
    assert train and val and all(d.encoding == doc.encoding for d in train + val)
    assert "".join(d.text for d in train + val).count(" ") == doc.text.count(" ")  # nothing lost
    assert 0.05 < sum(len(d.text) for d in val) / len(doc.text) < 0.2
    for piece in chunk_document(doc, MIN_CHUNK_CHARS)[:-1]:  # every cut falls at a sentence end, else a space
        assert piece.text.endswith(". " if sentences else " ") and not piece.text.endswith("  ")
