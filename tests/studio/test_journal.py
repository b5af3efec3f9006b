"""The autosave journal: atomic entries, recovery after a crash (a real SIGKILL), locks held by live editors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from scribe.studio.document import Document
from scribe.studio.journal import Autosaver, Journal, new_untitled_key

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from scribe.studio.document import Document
    from scribe.studio.journal import Autosaver, Journal

    journal = Journal(Path(sys.argv[1]))
    document = Document.open(sys.argv[2])
    autosaver = Autosaver(journal, document.key, document)
    assert journal.claim(document.key)
    version = 0
    while True:
        version += 1
        autosaver.save(f"draft {version} " + "x" * 20000, version)
        print(version, flush=True)
    """
)

HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from scribe.studio.journal import Journal

    assert Journal(Path(sys.argv[1])).claim(sys.argv[2])
    print("held", flush=True)
    sys.stdin.read()
    """
)


def test_write_read_clear_round_trip(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "autosave")
    entry = journal.write("/doc.txt", "unsaved ünïcode", path=Path("/doc.txt"), disk_hash="abc")
    assert journal.read("/doc.txt") == entry
    assert entry.text == "unsaved ünïcode" and entry.path == "/doc.txt" and entry.disk_hash == "abc" and entry.saved_at > 0
    assert [p.suffix for p in (tmp_path / "autosave").iterdir()] == [".json"]
    journal.clear("/doc.txt")
    assert journal.read("/doc.txt") is None


def test_a_corrupt_entry_reads_as_none(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.entry_file("k").write_text("{not json", encoding="utf-8")
    assert journal.read("k") is None


def test_recovery_offers_text_that_differs_from_the_file_and_drops_stale_entries(tmp_path: Path) -> None:
    file = tmp_path / "doc.txt"
    file.write_text("on disk", encoding="utf-8")
    document = Document.open(file)
    journal = Journal(tmp_path / "autosave")
    journal.write(document.key, "on disk plus more", path=document.path, disk_hash=document.disk_hash)
    entry = journal.recovery_for(document)
    assert entry is not None and entry.text == "on disk plus more"
    journal.write(document.key, "on disk", path=document.path, disk_hash=document.disk_hash)
    assert journal.recovery_for(document) is None
    assert journal.read(document.key) is None


def test_an_entry_held_by_a_live_editor_is_not_offered(tmp_path: Path) -> None:
    file = tmp_path / "doc.txt"
    file.write_text("on disk", encoding="utf-8")
    document = Document.open(file)
    root = tmp_path / "autosave"
    Journal(root).write(document.key, "being edited elsewhere", path=document.path, disk_hash=document.disk_hash)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(root), document.key],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        journal = Journal(root)
        assert journal.recovery_for(document) is None
        assert not journal.claim(document.key)
    finally:
        holder.communicate("", timeout=30)
    assert journal.recovery_for(document) is not None
    assert journal.claim(document.key)


def test_orphaned_untitled_entries_are_found_newest_first(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    older, newer, mine = new_untitled_key(), new_untitled_key(), new_untitled_key()
    journal.write(older, "older text", path=None, disk_hash=None)
    journal.write(newer, "newer text", path=None, disk_hash=None)
    journal.write(mine, "this session", path=None, disk_hash=None)
    journal.write("/saved.txt", "a titled document", path=Path("/saved.txt"), disk_hash=None)
    assert journal.claim(mine)
    assert [entry.text for entry in journal.orphans()] == ["newer text", "older text"]


def test_autosaver_skips_unchanged_text_and_never_resurrects_a_cleared_entry(tmp_path: Path) -> None:
    file = tmp_path / "doc.txt"
    file.write_text("saved", encoding="utf-8")
    document = Document.open(file)
    journal = Journal(tmp_path / "autosave")
    saver = Autosaver(journal, document.key, document)
    assert not saver.save("saved", 1)
    assert saver.save("saved and more", 2)
    assert not saver.save("saved and more", 3)
    saver.clear(4)
    assert journal.read(document.key) is None
    assert not saver.save("saved and more", 3), "an autosave taken before the save must not write the entry back"
    assert saver.save("saved and more!", 5)
    assert not saver.save("saved", 6)
    assert journal.read(document.key) is None, "text equal to the file removes the entry"


def test_the_journal_survives_sigkill_and_is_offered_afterwards(tmp_path: Path) -> None:
    file = tmp_path / "novel.txt"
    file.write_text("chapter one", encoding="utf-8")
    root = tmp_path / "autosave"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(file)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    reported = 0
    try:
        while reported < 25:
            line = writer.stdout.readline()
            assert line, "the writer process died"
            reported = int(line)
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL

    document = Document.open(file)
    entry = Journal(root).recovery_for(document)
    assert entry is not None, "the killed process's lock must be gone and its entry offered"
    version = int(entry.text.split()[1])
    assert version >= reported
    assert entry.text == f"draft {version} " + "x" * 20000
    assert entry.path == str(file.absolute()) and entry.disk_hash == document.disk_hash
    assert file.read_text(encoding="utf-8") == "chapter one"
