"""Opening and saving documents: UTF-8 with or without BOM, binary files refused untouched, atomic saves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scribe.studio.document import BOM, Document, DocumentError, text_hash


def test_open_reads_utf8_and_records_the_disk_hash(tmp_path: Path) -> None:
    file = tmp_path / "story.txt"
    file.write_bytes("Élise walked.\nThe end.\n".encode())
    doc = Document.open(file)
    assert doc.saved_text == "Élise walked.\nThe end.\n"
    assert doc.path == file.absolute() and doc.title == "story.txt" and doc.key == str(file.absolute())
    assert doc.disk_hash == text_hash(file.read_bytes())
    assert not doc.bom
    assert not doc.is_dirty("Élise walked.\nThe end.\n") and doc.is_dirty("Élise ran.")


def test_bom_is_hidden_from_the_text_and_written_back(tmp_path: Path) -> None:
    file = tmp_path / "bom.txt"
    file.write_bytes(BOM + "hello".encode())
    doc = Document.open(file)
    assert doc.saved_text == "hello" and doc.bom
    doc.save("hello, world")
    assert file.read_bytes() == BOM + b"hello, world"


def test_a_missing_file_opens_empty_and_is_created_on_save(tmp_path: Path) -> None:
    file = tmp_path / "new.txt"
    doc = Document.open(file)
    assert doc.saved_text == "" and doc.disk_hash is None and not file.exists()
    doc.save("first words")
    assert file.read_text(encoding="utf-8") == "first words"
    assert doc.disk_hash == text_hash(b"first words") and not doc.is_dirty("first words")


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"), (b"caf\xe9 cr\xe8me \x81\x8d", "neither UTF-8 nor Windows-1252")],
)
def test_binary_and_undecodable_files_are_refused_and_left_untouched(tmp_path: Path, data: bytes, reason: str) -> None:
    file = tmp_path / "data.bin"
    file.write_bytes(data)
    before = file.stat()
    with pytest.raises(DocumentError, match=reason) as caught:
        Document.open(file)
    assert str(file) in str(caught.value)
    assert file.read_bytes() == data and file.stat().st_mtime_ns == before.st_mtime_ns
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="folder"):
        Document.open(tmp_path)


def test_save_replaces_atomically_keeps_permissions_and_leaves_no_temp_files(tmp_path: Path) -> None:
    file = tmp_path / "keep.txt"
    file.write_text("old", encoding="utf-8")
    os.chmod(file, 0o640)
    doc = Document.open(file)
    doc.save("new text")
    assert file.read_text(encoding="utf-8") == "new text"
    assert file.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_save_to_a_missing_folder_fails_clearly_and_keeps_the_saved_state(tmp_path: Path) -> None:
    doc = Document.open(tmp_path / "a.txt")
    with pytest.raises(DocumentError, match="cannot save"):
        doc.save("text", tmp_path / "missing" / "b.txt")
    assert doc.path == (tmp_path / "a.txt").absolute() and doc.saved_text == ""


def test_an_untitled_document_needs_a_name_to_save() -> None:
    doc = Document()
    assert doc.key is None and doc.title == "untitled"
    with pytest.raises(DocumentError, match="no file name"):
        doc.save("text")
