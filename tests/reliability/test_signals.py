"""§2 Signals and exits: the real studio in a pseudo-terminal, sent SIGTERM, SIGHUP or SIGINT, writes the journal,
restores the terminal and exits; killed with SIGKILL after a pause in typing, the journal already holds the text."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from scribe.studio.journal import Journal

REPO = Path(__file__).resolve().parents[2]
LEAVE_ALT_SCREEN = b"\x1b[?1049l"


class Studio:
    """`scribe tui FILE` in a pseudo-terminal, with everything it prints collected."""

    def __init__(self, file: Path, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        (home / "config").mkdir(exist_ok=True)
        (home / "config" / "config.toml").write_text("autosave_seconds = 3600.0\n", encoding="utf-8")
        env = {**os.environ, "SCRIBE_HOME": str(home), "SCRIBE_MODEL": "/nonexistent/signal-test-model",
               "PYTHONPATH": str(REPO), "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen([sys.executable, "-m", "scribe", "tui", str(file)], stdin=slave,
                                        stdout=slave, stderr=slave, env=env, cwd=REPO, start_new_session=True)
        os.close(slave)
        self.output = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    return
                if not chunk:
                    return
                self.output.extend(chunk)
            elif self.process.poll() is not None:
                return

    def wait_for(self, text: bytes, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            assert time.monotonic() < deadline, f"{text!r} never shown; output tail: {bytes(self.output[-400:])!r}"
            time.sleep(0.05)

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._reader.join(timeout=2)
        os.close(self.master)


def _journal_texts(home: Path) -> list[str]:
    journal = Journal(home / "data" / "autosave")  # through the journal: an entry is a base and its change log
    keys = [json.loads(f.read_text(encoding="utf-8"))["key"] for f in journal.root.glob("*.json")]
    return [entry.text for key in keys if (entry := journal.read(key)) is not None]


@pytest.fixture
def studio(tmp_path: Path):
    file = tmp_path / "story.txt"
    file.write_text("Begun. ", encoding="utf-8")
    started: list[Studio] = []

    def start() -> Studio:
        started.append(Studio(file, tmp_path / "home"))
        started[-1].wait_for(b"story.txt")
        time.sleep(0.5)
        return started[-1]

    yield start
    for one in started:
        one.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_journals_the_text_and_restores_the_terminal(studio, tmp_path: Path, signum: int) -> None:
    app = studio()
    app.type("unsaved words xyzzy")
    app.wait_for(b"xyzzy")
    app.process.send_signal(signum)
    assert app.process.wait(timeout=20) == 128 + signum
    assert any(text.endswith("unsaved words xyzzy") for text in _journal_texts(tmp_path / "home"))
    app._reader.join(timeout=2)
    assert LEAVE_ALT_SCREEN in app.output
    assert (tmp_path / "story.txt").read_text(encoding="utf-8") == "Begun. "


def test_a_kill_after_a_pause_in_typing_loses_nothing(studio, tmp_path: Path) -> None:
    app = studio()
    app.type("typed then paused qqq")
    app.wait_for(b"qqq")
    time.sleep(2.0)
    app.process.send_signal(signal.SIGKILL)
    app.process.wait(timeout=10)
    assert any(text.endswith("typed then paused qqq") for text in _journal_texts(tmp_path / "home"))


def test_a_closed_terminal_journals_the_text_and_exits(studio, tmp_path: Path) -> None:
    app = studio()
    app.type("words before the window went zzz")
    app.wait_for(b"zzz")
    app._reader.join(timeout=0)  # the reader stops once the terminal is gone
    os.close(app.master)
    app.master = os.open(os.devnull, os.O_RDONLY)  # so close() has something to close
    app.process.send_signal(signal.SIGHUP)
    assert app.process.wait(timeout=20) == 128 + signal.SIGHUP
    assert any(text.endswith("words before the window went zzz") for text in _journal_texts(tmp_path / "home"))
