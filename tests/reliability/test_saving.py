"""§1 Saving never clobbers: changes made on disk by someone else are noticed before a save, symbolic links are
written through, modes and owners are kept, read-only files are not replaced, new files get the umask's mode, and
every writer of files uses the one atomic-write helper."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from scribe.config import Paths, Settings, save_settings
from scribe.files import ReadOnlyFile, atomic_write
from scribe.sampling.params import SamplingParams
from scribe.studio.document import Document, DocumentError, SaveConflict
from scribe.studio.journal import Journal
from scribe.studio.presets import save_preset


def _touch_later(path: Path, text: str) -> None:
    """Another program rewrites `path` (with a later mtime, as a real edit a moment later would have)."""
    path.write_text(text, encoding="utf-8")
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 2_000_000_000))


@pytest.mark.parametrize("outside", ["Someone else's words.", "", "It began.\nAnd then more."])
def test_a_file_changed_on_disk_since_it_was_read_is_not_overwritten(tmp_path: Path, outside: str) -> None:
    file = tmp_path / "story.txt"
    file.write_text("It began.", encoding="utf-8")
    doc = Document.open(file)
    _touch_later(file, outside)
    with pytest.raises(SaveConflict) as caught:
        doc.save("It began. My edit.")
    assert "story.txt" in str(caught.value) and "changed on disk" in str(caught.value)
    assert file.read_text(encoding="utf-8") == outside
    doc.save("It began. My edit.", overwrite=True)
    assert file.read_text(encoding="utf-8") == "It began. My edit."


def test_a_file_deleted_or_created_behind_the_writers_back_is_a_conflict(tmp_path: Path) -> None:
    file = tmp_path / "new.txt"
    doc = Document.open(file)  # does not exist yet
    file.write_text("made by a sync tool", encoding="utf-8")
    with pytest.raises(SaveConflict):
        doc.save("mine")
    assert file.read_text(encoding="utf-8") == "made by a sync tool"


def test_a_touched_but_unchanged_file_saves_without_asking(tmp_path: Path) -> None:
    file = tmp_path / "story.txt"
    file.write_text("Same.", encoding="utf-8")
    doc = Document.open(file)
    _touch_later(file, "Same.")
    assert doc.changed_on_disk() is None
    doc.save("Same. More.")
    assert file.read_text(encoding="utf-8") == "Same. More."


def test_saving_again_after_a_save_is_not_a_conflict(tmp_path: Path) -> None:
    file = tmp_path / "story.txt"
    doc = Document.open(file)
    for n in range(3):
        doc.save(f"version {n}")
    assert file.read_text(encoding="utf-8") == "version 2"


def test_saving_writes_through_a_symbolic_link(tmp_path: Path) -> None:
    real = tmp_path / "real" / "story.txt"
    real.parent.mkdir()
    real.write_text("old", encoding="utf-8")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    doc = Document.open(link)
    doc.save("new through the link")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text(encoding="utf-8") == "new through the link"


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o664, 0o755])
def test_saving_keeps_the_mode_and_owner(tmp_path: Path, mode: int) -> None:
    file = tmp_path / "story.txt"
    file.write_text("old", encoding="utf-8")
    os.chmod(file, mode)
    if os.geteuid() == 0:
        os.chown(file, 4242, 4343)
    doc = Document.open(file)
    doc.save("new")
    info = file.stat()
    assert stat.S_IMODE(info.st_mode) == mode
    if os.geteuid() == 0:
        assert (info.st_uid, info.st_gid) == (4242, 4343)


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_a_new_file_gets_the_mode_the_umask_gives(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        Document.open(tmp_path / "fresh.txt").save("hello")
        save_settings(Settings(), Paths.discover())
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "fresh.txt").stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE(Paths.discover().config_file.stat().st_mode) == 0o666 & ~umask


def test_a_read_only_file_is_not_replaced(tmp_path: Path) -> None:
    file = tmp_path / "locked.txt"
    file.write_text("keep me", encoding="utf-8")
    os.chmod(file, 0o444)
    doc = Document.open(file)
    with pytest.raises(DocumentError) as caught:
        doc.save("replacement")
    assert "read-only" in str(caught.value) and "locked.txt" in str(caught.value)
    assert file.read_text(encoding="utf-8") == "keep me" and stat.S_IMODE(file.stat().st_mode) == 0o444
    assert sorted(p.name for p in tmp_path.iterdir()) == ["locked.txt"]


@pytest.mark.parametrize("text", ["no final newline", "one final newline\n", "two\n\n", "crlf\r\nlines\r\n",
                                  "crlf without end\r\nx"])
def test_saving_keeps_the_final_newline_convention(tmp_path: Path, text: str) -> None:
    file = tmp_path / "story.txt"
    file.write_bytes(text.encode())
    doc = Document.open(file)
    doc.save(doc.saved_text + "")
    assert file.read_bytes() == text.encode()


def test_every_writer_goes_through_the_one_helper(tmp_path: Path) -> None:
    """Settings, presets, journals and documents: each writes through a symbolic link (only the helper does)."""
    paths = Paths.discover()
    targets = {
        "settings": paths.config_file,
        "preset": paths.config / "presets" / "mine.toml",
        "journal": Journal(paths.autosave).entry_file("some-key"),
        "document": tmp_path / "doc.txt",
    }
    for name, target in targets.items():
        real = tmp_path / "real" / f"{name}.data"
        real.parent.mkdir(exist_ok=True)
        real.write_text("old", encoding="utf-8")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(real)
    save_settings(Settings(alternatives=3), paths)
    save_preset(paths.config, "mine", SamplingParams(temperature=0.5))
    Journal(paths.autosave).write("some-key", "journalled", path=None, disk_hash=None)
    Document.open(targets["document"]).save("document text")
    for name, target in targets.items():
        assert target.is_symlink(), name
        assert (tmp_path / "real" / f"{name}.data").read_text(encoding="utf-8") != "old", name


def test_the_helper_refuses_read_only_and_folder_targets_and_leaves_no_temporary(tmp_path: Path) -> None:
    ro = tmp_path / "ro.txt"
    ro.write_text("x", encoding="utf-8")
    os.chmod(ro, 0o400)
    with pytest.raises(ReadOnlyFile):
        atomic_write(ro, b"y")
    with pytest.raises(OSError):
        atomic_write(tmp_path, b"y")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ro.txt"]
