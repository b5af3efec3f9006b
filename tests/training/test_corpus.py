"""Corpus reading on real files: Gutenberg header stripping, BOMs, skipped files, the no-text error."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from scribe.training.corpus import EmptyCorpus, read_corpus


def test_gutenberg_header_and_footer_are_stripped(data_dir: Path) -> None:
    path = data_dir / "gutenberg" / "pg1400_dickens_great_expectations_excerpt.txt"
    raw = path.read_bytes().decode("utf-8")
    assert raw.startswith("\ufeff") and "*** START OF" in raw and "*** END OF" in raw

    corpus = read_corpus([path])

    [doc] = corpus.documents
    assert doc.path == path and corpus.skipped == []
    assert "PROJECT GUTENBERG" not in doc.text.upper().split("\n", 3)[0]
    assert "*** START OF" not in doc.text and "*** END OF" not in doc.text
    assert "Project Gutenberg License" not in doc.text and "Gutenberg Literary Archive" not in doc.text
    assert not doc.text.startswith("\ufeff")
    assert "My father’s family name being Pirrip" in doc.text
    assert "\r" not in doc.text


def test_keeping_the_gutenberg_header_when_asked(data_dir: Path) -> None:
    path = data_dir / "gutenberg" / "pg1400_dickens_great_expectations_excerpt.txt"
    assert "*** START OF" in read_corpus([path], strip_gutenberg=False).documents[0].text


def test_bom_crlf_utf16_binary_and_empty_files(tmp_path: Path) -> None:
    (tmp_path / "a_bom.txt").write_bytes(codecs.BOM_UTF8 + "Caf\u00e9 line one\r\nline two\r\n".encode())
    (tmp_path / "b_utf16.txt").write_bytes(codecs.BOM_UTF16_LE + "Na\u00efve text".encode("utf-16-le"))
    (tmp_path / "c_binary.bin").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "d_empty.txt").write_bytes(b"")
    western = "It was the best of times; caf\u00e9, cr\u00e8me br\u00fbl\u00e9e, na\u00efve fa\u00e7ade \u2014 Gr\u00f6\u00dfe.\n"
    (tmp_path / "e_cp1252.txt").write_bytes(western.encode("cp1252"))
    russian = "\u041f\u0440\u0438\u0432\u0435\u0442, \u043a\u0430\u043a \u0434\u0435\u043b\u0430? \u041c\u044b \u0447\u0438\u0442\u0430\u0435\u043c \u043a\u043d\u0438\u0433\u0443 \u043d\u0430 \u0440\u0443\u0441\u0441\u043a\u043e\u043c \u044f\u0437\u044b\u043a\u0435.\n"
    (tmp_path / "e_cp1251.txt").write_bytes(russian.encode("cp1251"))
    (tmp_path / "f_blank.txt").write_text("\n\n   \n")
    (tmp_path / "g_noise.dat").write_bytes(bytes(range(1, 256)) * 3)

    corpus = read_corpus([tmp_path])

    texts = {d.path.name: d.text for d in corpus.documents}
    assert texts == {"a_bom.txt": "Caf\u00e9 line one\nline two\n", "b_utf16.txt": "Na\u00efve text\n",
                     "e_cp1251.txt": russian, "e_cp1252.txt": western}
    reasons = {s.path.name: s.reason for s in corpus.skipped}
    assert set(reasons) == {"c_binary.bin", "d_empty.txt", "f_blank.txt", "g_noise.dat"}
    assert "binary" in reasons["c_binary.bin"]
    assert reasons["d_empty.txt"] == "empty file"
    assert "not text in UTF-8 or a detectable legacy encoding" in reasons["g_noise.dat"]
    assert corpus.characters == sum(len(t) for t in texts.values())


def test_globs_and_missing_paths(data_dir: Path, tmp_path: Path) -> None:
    corpus = read_corpus([str(data_dir / "gutenberg" / "pg4*.txt"), tmp_path / "nope.txt"])
    assert [d.path.name for d in corpus.documents] == ["pg46_dickens_christmas_carol_excerpt.txt"]
    assert [(s.path.name, s.reason) for s in corpus.skipped] == [("nope.txt", "no such file, or nothing matched")]


def test_no_usable_text_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "zeros.dat").write_bytes(b"\x00" * 100)
    with pytest.raises(EmptyCorpus, match="no usable text.*empty.txt: empty file"):
        read_corpus([tmp_path])
    with pytest.raises(EmptyCorpus, match="nothing matched"):
        read_corpus([tmp_path / "missing" / "*.txt"])
