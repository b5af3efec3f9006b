"""The journal's change log: an autosave after a small edit appends the edit, not the text; reading (after a kill -9
too) gives back exactly the text of the last complete autosave; the log is folded into a fresh base as it grows."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from scribe.studio.document import Document
from scribe.studio.journal import LOG_MAX_RECORDS, Autosaver, Journal, LineEdit, join_lines

REPO = Path(__file__).resolve().parents[2]

EDITOR = textwrap.dedent(
    """
    import random, sys
    from pathlib import Path
    from scribe.studio.document import Document
    from scribe.studio.journal import Autosaver, Journal

    journal = Journal(Path(sys.argv[1]))
    document = Document.open(sys.argv[2])
    autosaver = Autosaver(journal, document.key, document)
    assert journal.claim(document.key)
    rng = random.Random(5)
    text = document.saved_text
    version = 0
    while True:
        version += 1
        at = rng.randrange(len(text) + 1)
        text = text[:at] + f"<{version}>" + text[at + rng.randrange(4):]
        autosaver.save(text, version)
        print(version, flush=True)
    """
)


def _texts(rng: random.Random, count: int) -> list[str]:
    """Texts each one random edit away from the last (long common parts, so the block comparison is exercised)."""
    text = "".join(rng.choice("ab\\né ") for _ in range(200_000))
    found = [text]
    for _ in range(count):
        at = rng.randrange(len(text) + 1)
        text = text[:at] + "".join(rng.choice("abz€") for _ in range(rng.randrange(5))) + text[at + rng.randrange(6):]
        found.append(text)
    return found


def test_the_edit_between_two_texts_turns_one_into_the_other() -> None:
    rng = random.Random(11)
    texts = _texts(rng, 60) + ["", "abc", "abc", "xabcx", "", "a\nb\n", "a\n\nb\n", "\n"]
    for old, new in zip(texts, texts[1:]):
        lines = old.split("\n")
        edit = LineEdit.between(lines, new.split("\n"))
        edit.apply(lines)
        assert "\n".join(lines) == new
        assert len(edit.lines) <= 3 or len(new) < 10


def test_an_autosave_after_a_small_edit_to_a_large_text_appends_far_fewer_bytes(tmp_path: Path) -> None:
    file = tmp_path / "big.txt"
    text = ("All the world's a stage, and all the men and women merely players.\n" * 80_000)  # 5.4 MB
    file.write_text(text, encoding="utf-8")
    document = Document.open(file)
    journal = Journal(tmp_path / "autosave")
    saver = Autosaver(journal, document.key, document)
    first = text[:2_000_000] + "An edit. " + text[2_000_000:]
    assert saver.save(first, 1)
    size = sum(f.stat().st_size for f in journal.root.iterdir())
    assert size > len(text)  # the first autosave writes the base
    second = first[:4_000_000] + "Another, far on." + first[4_000_000:]
    assert saver.save(second, 2)
    grown = sum(f.stat().st_size for f in journal.root.iterdir()) - size
    assert 0 < grown < 200, grown
    assert not saver.save(second, 3)  # nothing changed: nothing written
    assert sum(f.stat().st_size for f in journal.root.iterdir()) - size == grown
    assert journal.read(document.key).text == second
    assert Journal(journal.root).read(document.key).text == second  # a fresh reader, as after a crash


def test_a_kill_9_mid_autosave_gives_back_exactly_the_last_complete_text(tmp_path: Path) -> None:
    file = tmp_path / "story.txt"
    file.write_text("Once upon a time. " * 20_000, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-c", EDITOR, str(tmp_path / "autosave"), str(file)],
                               stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    for _ in range(300):  # a fresh base and 255 log lines, then a fresh base again (the log compacted) and more
        last = int(process.stdout.readline())
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    tail = process.stdout.read().split()
    last = int(tail[-1]) if tail else last  # saves announced after the 300th one read
    rng = random.Random(5)  # replay the child's edits: the text of every version it announced
    texts = {}
    text = file.read_text(encoding="utf-8")
    for version in range(1, last + 2):
        at = rng.randrange(len(text) + 1)
        text = text[:at] + f"<{version}>" + text[at + rng.randrange(4):]
        texts[version] = text
    entry = Journal(tmp_path / "autosave").read(Document.open(file).key)
    assert entry is not None
    assert entry.text in (texts[last], texts[last + 1])  # the last announced save, or the one whose fsync just ended
    assert len(list((tmp_path / "autosave").glob("*.log"))) == 1


def test_a_log_line_cut_short_is_left_out_and_a_damaged_one_sets_the_entry_aside(tmp_path: Path) -> None:
    file = tmp_path / "doc.txt"
    file.write_text("saved text", encoding="utf-8")
    document = Document.open(file)
    journal = Journal(tmp_path / "autosave")
    saver = Autosaver(journal, document.key, document)
    saver.save("saved text, edited", 1)
    saver.save("saved text, edited twice", 2)
    [log] = journal.root.glob("*.log")
    with log.open("ab") as handle:
        handle.write(b'{"edits": [[0, 1, ["half wr')  # a kill in the middle of an append
    assert journal.read(document.key).text == "saved text, edited twice"
    with log.open("ab") as handle:
        handle.write(b'\n')  # the cut line made whole, but damaged
    assert journal.read(document.key) is None
    [problem] = journal.take_problems()
    assert "damaged journal entry" in problem and "line 2" in problem, problem
    assert sorted(p.suffix for p in journal.root.iterdir() if p.suffix != ".lock") == [".bad-1", ".bad-1"]


def test_the_log_is_folded_into_a_fresh_base_after_many_autosaves(tmp_path: Path) -> None:
    file = tmp_path / "doc.txt"
    file.write_text("start", encoding="utf-8")
    document = Document.open(file)
    journal = Journal(tmp_path / "autosave")
    saver = Autosaver(journal, document.key, document)
    text = "start"
    logs = set()
    for version in range(1, LOG_MAX_RECORDS + 4):
        text += f" {version}"
        assert saver.save(text, version)
        logs |= {log.name for log in journal.root.glob("*.log")}
        assert len(list(journal.root.glob("*.log"))) <= 1
    assert len(logs) == 2  # one log per base: the first base's, then the fresh one's
    assert journal.read(document.key).text == text
    saver.clear(LOG_MAX_RECORDS + 4)
    assert [p.suffix for p in journal.root.iterdir()] == []


def test_lines_joined_in_groups_and_a_base_escaped_in_pieces_read_back_exactly(tmp_path: Path) -> None:
    rng = random.Random(3)
    text = "".join(rng.choice('ab"\\\t\x00é😀\n') for _ in range(2_500_000))  # past one escaping piece (1M characters)
    assert join_lines(text.split("\n"), "\n", group=1000) == text
    journal = Journal(tmp_path / "autosave")
    journal.write("untitled-x", text, path=None, disk_hash=None)
    assert Journal(journal.root).read("untitled-x").text == text
