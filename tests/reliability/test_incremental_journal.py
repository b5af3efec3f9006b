"""§2/§3, the journal of a huge document is written by its edits: after the first autosave, each one appends the
lines edited since the one before (typing, new lines, lines deleted, undo, a paste), never the whole text; a fresh
reader (as after a crash) rebuilds exactly the editor's text, also after a real kill -9 in the middle of the writes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scribe.config import Settings
from scribe.studio.document import Document
from scribe.studio.journal import Journal
from scribe.ui.app import ScribeApp

from .conftest import SIZE
from .test_large_document import huge_text

REPO = Path(__file__).resolve().parents[2]

EDITS = textwrap.dedent(
    """
    def edit(document, rng, version):
        '''Two to four random edits of a FastDocument near one place (some merge, some do not): words typed, lines
        broken, spans over lines deleted.'''
        near = rng.randrange(len(document.lines))
        for _ in range(rng.randrange(2, 5)):
            lines = document.lines
            row = max(0, min(len(lines) - 1, near + rng.randrange(-4, 5)))
            start = (row, rng.randrange(len(lines[row]) + 1))
            kind = rng.randrange(3)
            if kind == 0:
                document.replace_range(start, start, f"<{version}>")
            elif kind == 1:
                document.replace_range(start, start, f"\\n{version}\\n")
            else:
                last = min(len(lines) - 1, row + rng.randrange(4))
                end = (last, rng.randrange(len(lines[last]) + 1))
                document.replace_range(start, max(start, end), "")
    """
)

WRITER = EDITS + textwrap.dedent(
    """
    import random, sys
    from pathlib import Path
    from scribe.studio.document import Document
    from scribe.studio.journal import Autosaver, Journal
    from scribe.ui.widgets.fast_document import FastDocument

    journal = Journal(Path(sys.argv[1]))
    document = Document.open(sys.argv[2])
    autosaver = Autosaver(journal, document.key, document)
    assert journal.claim(document.key)
    editor = FastDocument(document.saved_text)
    changes = editor.record_changes()
    autosaver.track(editor.lines, editor.newline)
    rng = random.Random(7)
    version = 0
    while True:
        version += 1
        edit(editor, rng, version)
        autosaver.queue(changes.take(), version)
        autosaver.write_queued()
        print(version, flush=True)
    """
)


async def test_edits_all_over_a_huge_document_are_journalled_by_lines_and_read_back_exactly(
        settings: Settings, tmp_path: Path) -> None:
    text = huge_text(4)
    file = tmp_path / "huge.txt"
    file.write_text(text, encoding="utf-8")
    app = ScribeApp(file, settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        editor = app.editor
        lines = editor.document.line_count
        editor.move_cursor((lines // 2, 3))
        await pilot.press(*"typed in the middle", "enter", *"and a new line")
        app.autosave()  # the first autosave: a base of the whole text
        await app.workers.wait_for_complete()
        key = app.autosaver.key
        assert Journal(app.journal.root).read(key).text == editor.text
        base = app.autosaver.bytes_written
        assert base > len(text)

        await pilot.press("ctrl+home", *"Title", "enter")
        editor.move_cursor((lines // 4, 0))
        editor.delete((lines // 4, 0), (lines // 4 + 40, 5))  # forty lines and a bit gone
        editor.move_cursor((3 * lines // 4, 7))
        editor.insert("a pasted\nparagraph of\nthree lines")
        await pilot.press("ctrl+end", *" The end, again.", "backspace", "backspace")
        await pilot.press("ctrl+z")
        await pilot.pause()
        app.autosave()
        await app.workers.wait_for_complete()
        appended = app.autosaver.bytes_written - base
        assert 0 < appended < 20_000, appended  # the edited lines, not the 4 MB text
        assert [p.suffix for p in app.journal.root.glob("*.log")] == [".log"]
        assert Journal(app.journal.root).read(key).text == editor.text

        await pilot.press(*"after the last autosave")
        assert app.autosave_now()  # what quitting (or SIGTERM) writes, on this thread
        assert app.autosaver.bytes_written - base - appended < 20_000
        assert Journal(app.journal.root).read(key).text == editor.text
        expected = editor.text
    entry = Journal(app.journal.root).read(Document.open(file).key)
    assert entry is not None and entry.text.encode("utf-8") == expected.encode("utf-8")
    assert file.read_text(encoding="utf-8") == text  # nothing saved behind the writer's back


async def test_undoing_back_to_the_file_removes_the_entry(settings: Settings, tmp_path: Path) -> None:
    file = tmp_path / "doc.txt"
    file.write_text(huge_text(1), encoding="utf-8")
    app = ScribeApp(file, settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press(*"abc")
        app.autosave()
        await app.workers.wait_for_complete()
        assert app.journal.read(app.autosaver.key) is not None
        await pilot.press("ctrl+z")
        await pilot.pause()
        assert app.editor.text == file.read_text(encoding="utf-8")
        app.autosave()
        await app.workers.wait_for_complete()
        assert app.journal.read(app.autosaver.key) is None
        assert not list(app.journal.root.glob("*.json")) and not list(app.journal.root.glob("*.log"))


def test_a_kill_9_between_line_edit_autosaves_gives_back_exactly_the_last_complete_text(tmp_path: Path) -> None:
    from scribe.ui.widgets.fast_document import FastDocument

    file = tmp_path / "story.txt"
    file.write_text(huge_text(2), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "autosave"), str(file)],
                               stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    for _ in range(300):  # a base and 255 log lines, then a fresh base (the log compacted) and more
        last = int(process.stdout.readline())
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    tail = process.stdout.read().split()
    last = int(tail[-1]) if tail else last  # autosaves announced after the 300th one read
    namespace: dict[str, object] = {}
    exec(EDITS, namespace)
    edit = namespace["edit"]
    document, rng, texts = FastDocument(file.read_text(encoding="utf-8")), random.Random(7), {}
    for version in range(1, last + 2):  # the child's edits again: its text at every version it announced
        edit(document, rng, version)  # type: ignore[operator]
        texts[version] = document.text
    entry = Journal(tmp_path / "autosave").read(Document.open(file).key)
    assert entry is not None
    assert entry.text in (texts[last], texts[last + 1])  # the last announced autosave, or one whose fsync just ended
    assert entry.text.count("\n") != file.read_text(encoding="utf-8").count("\n")  # lines were broken and deleted
    assert len(list((tmp_path / "autosave").glob("*.log"))) == 1


def test_an_autosave_whose_append_failed_is_followed_by_a_fresh_base_not_a_gap(tmp_path: Path) -> None:
    import shutil

    from scribe.studio.journal import Autosaver, LineChanges

    file = tmp_path / "doc.txt"
    file.write_text("one\ntwo\nthree\n", encoding="utf-8")
    document = Document.open(file)
    journal = Journal(tmp_path / "autosave")
    saver, changes = Autosaver(journal, document.key, document), LineChanges()
    lines = document.saved_text.split("\n")
    saver.track(lines, "\n")

    def type_line(row: int, words: str, version: int) -> None:  # what the editor does, and records
        lines[row] += words
        changes.record(lines, row, 1, 1)
        saver.queue(changes.take(), version)

    type_line(0, " 1", 1)
    assert saver.write_queued()  # the base
    type_line(1, " 2", 2)
    assert saver.write_queued()  # appended
    [log] = journal.root.glob("*.log")
    log.unlink()
    log.mkdir()  # the next append fails (as on a full or broken disk)
    type_line(2, " 3", 3)
    try:
        saver.write_queued()
    except OSError:
        pass
    else:
        raise AssertionError("the append should have failed")
    shutil.rmtree(log)
    type_line(0, " 4", 4)
    assert saver.write_queued()
    assert Journal(journal.root).read(document.key).text == "\n".join(lines) == "one 1 4\ntwo 2\nthree 3\n"


async def test_quitting_a_huge_document_without_edits_journals_nothing_and_compares_nothing(
        settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import scribe.studio.journal as journal_module

    compared: list[int] = []
    same_text = journal_module.same_text
    monkeypatch.setattr(journal_module, "same_text",  # the real comparison, counted
                        lambda lines, newline, text: compared.append(len(text)) or same_text(lines, newline, text))
    file = tmp_path / "huge.txt"
    file.write_text(huge_text(2), encoding="utf-8")
    app = ScribeApp(file, settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not app.autosave_now()  # what quitting does
        app.autosave()
        await app.workers.wait_for_complete()
        assert compared == [] and not list(app.journal.root.glob("*.json"))
        await pilot.press("x", "backspace")  # back to the file's text: compared once, nothing journalled
        app.autosave()
        await app.workers.wait_for_complete()
        assert not app.autosave_now()
        assert len(compared) == 1 and not list(app.journal.root.glob("*.json"))


async def test_a_document_opened_in_the_studio_is_journalled_by_its_own_edits(
        settings: Settings, tmp_path: Path) -> None:
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("first\ndocument\n", encoding="utf-8")
    second.write_text(huge_text(1), encoding="utf-8")
    app = ScribeApp(first, settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press(*"typed, then undone")
        app.autosave()
        await app.workers.wait_for_complete()
        await pilot.press("ctrl+z")
        await pilot.pause()
        assert app.editor.text == first.read_text(encoding="utf-8")
        app._open_chosen(str(second))
        await pilot.pause()
        app.editor.move_cursor((5, 0))
        await pilot.press(*"in the second", "enter")
        app.autosave()
        await app.workers.wait_for_complete()
        assert Journal(app.journal.root).read(Document.open(second).key).text == app.editor.text
        assert Journal(app.journal.root).read(Document.open(first).key) is None
