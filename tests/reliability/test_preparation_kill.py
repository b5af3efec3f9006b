"""§3 A `kill -9` while `scribe train` prepares its data leaves no copy of the corpus text behind: the cleaned text
waits in a file of the job folder that is unlinked as soon as it is created (`corpus.scratch_store`), so the kernel
frees it with the process. The real `scribe train` in a child process on a generated corpus of 28 MB, its job
process (the one preparing the data) killed while it reads the corpus and while it tokenises; before the fix a hidden
`.corpus-*` folder stayed in the job folder for good."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from scribe.training.corpus import scratch_store

LINUX = sys.platform.startswith("linux")


def job_process(pid: int) -> int:
    """The job process `scribe train` (process `pid`) started: the one that prepares the data."""
    [child] = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return int(child)


def open_scratch_files(pid: int) -> list[str]:
    """The `.corpus-*` files the process `pid` holds open (what /proc says they were)."""
    folder = Path(f"/proc/{pid}/fd")
    found = []
    for fd in folder.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if ".corpus-" in target:
            found.append(target)
    return found


@pytest.mark.skipif(not LINUX, reason="the scratch file is unlinked where /proc names open files (Linux)")
@pytest.mark.parametrize("stage", ["reading big.txt", "tokenising"])
def test_kill_9_during_data_preparation_leaves_no_text_behind(tmp_path: Path, stage: str,
                                                             train_on_copies: Callable[..., subprocess.Popen[str]]) -> None:
    process = train_on_copies(25, "--tokenizer", "char")
    assert process.stderr is not None
    lines: list[str] = []
    held: list[str] = []
    for line in process.stderr:
        lines.append(line.rstrip("\n"))
        if line.startswith("preparing the data (") and stage in line:
            job = job_process(process.pid)
            held = open_scratch_files(job)
            os.kill(job, signal.SIGKILL)
            break
    process.stderr.read()
    assert process.wait(timeout=60) != 0, lines
    assert held and all(name.endswith("(deleted)") for name in held), held  # written to, and already nameless
    home = Path(os.environ["SCRIBE_HOME"])
    assert list(home.rglob("job.json"))  # the job folder is there
    assert not list(home.rglob(".corpus-*")) and not list(tmp_path.rglob(".corpus-*"))


def test_the_scratch_store_is_readable_by_name_and_gone_after(tmp_path: Path) -> None:
    with scratch_store(tmp_path) as store:
        store.write_bytes(b"cleaned text")
        assert store.read_bytes() == b"cleaned text"
        assert not list(tmp_path.iterdir()) if LINUX else store.parent == tmp_path
    assert not list(tmp_path.iterdir())
