"""The installed `scribe`, driven inside tmux as a writer would: type, generate, accept, save, quit, reopen, and the
text and the branch tree are there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import tomli_w

from scribe.studio.branches import BranchTree, sidecar_path

SCRIBE = Path(sys.executable).parent / "scribe"
TMUX = shutil.which("tmux")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux) - the end-to-end test needs it"),
    pytest.mark.skipif(not SCRIBE.exists(), reason=f"scribe is not installed next to {sys.executable}"),
]


class Terminal:
    """One tmux session running one command."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path) -> None:
        self.name = f"scribe-test-{uuid.uuid4().hex[:8]}"
        exports = [f"{k}={v}" for k, v in env.items()]
        subprocess.run([TMUX, "new-session", "-d", "-s", self.name, "-x", "120", "-y", "36", "-c", str(cwd),
                        "env", *exports, *command], check=True)

    def screen(self) -> str:
        return subprocess.run([TMUX, "capture-pane", "-p", "-t", self.name], capture_output=True, text=True).stdout

    def keys(self, *keys: str, literal: bool = False) -> None:
        subprocess.run([TMUX, "send-keys", "-t", self.name, *(["-l"] if literal else []), *keys], check=True)

    def alive(self) -> bool:
        return subprocess.run([TMUX, "has-session", "-t", self.name], capture_output=True).returncode == 0

    def wait(self, condition: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; the screen:\n{self.screen() if self.alive() else '(gone)'}")

    def wait_for(self, text: str, timeout: float = 90.0) -> None:
        self.wait(lambda: text in self.screen(), repr(text), timeout)

    def close(self) -> None:
        if self.alive():
            subprocess.run([TMUX, "kill-session", "-t", self.name], capture_output=True)


@pytest.fixture
def terminals():
    opened: list[Terminal] = []
    yield opened
    for terminal in opened:
        terminal.close()


def test_write_generate_accept_quit_reopen(tmp_path: Path, tiny_model_dir: Path, terminals: list[Terminal]) -> None:
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "config.toml").write_text(tomli_w.dumps({
        "model": str(tiny_model_dir), "device": "cpu", "dtype": "float32",
        "sampling": {"seed": 3, "max_new_tokens": 6},
    }))
    env = {"SCRIBE_HOME": str(home), "HF_HUB_OFFLINE": "1", "TERM": "xterm-256color"}
    story = tmp_path / "story.txt"

    first = Terminal([str(SCRIBE), str(story)], env, tmp_path)
    terminals.append(first)
    first.wait_for("● ready")
    first.keys("Once upon a time", literal=True)
    first.wait_for("Once upon a time")
    first.keys("C-j")
    first.wait_for("6 tokens")
    first.keys("Tab")
    first.keys("C-s")
    first.wait(lambda: story.exists() and sidecar_path(story).exists(), "the document and its tree on disk")
    first.keys("C-q")
    first.wait(lambda: not first.alive(), "scribe to quit")

    text = story.read_text(encoding="utf-8")
    tree = BranchTree.load(sidecar_path(story))
    [root] = tree.roots()
    [node] = tree.children(root.id)
    assert root.text == "Once upon a time" and node.accepted and text == root.text + node.text
    assert node.generation is not None and node.generation.seed == 3 and len(node.tokens) == 6

    second = Terminal([str(SCRIBE), str(story)], env, tmp_path)
    terminals.append(second)
    second.wait_for("● ready")
    assert "Once upon a time" in second.screen()
    second.keys("F4")
    second.wait_for("Branches")
    screen = second.screen()
    assert "✎ Once upon a time" in screen and "✓" in screen and "seed 3 · 6 tokens" in screen
    second.keys("Escape")
    second.wait(lambda: "Branches" not in second.screen(), "the tree view to close")
    second.keys("C-q")
    second.wait(lambda: not second.alive(), "scribe to quit")
    assert story.read_text(encoding="utf-8") == text


def test_open_edits_a_file_named_like_a_command(tmp_path: Path, tiny_model_dir: Path, terminals: list[Terminal]) -> None:
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "config.toml").write_text(tomli_w.dumps({"model": str(tiny_model_dir), "device": "cpu"}))
    env = {"SCRIBE_HOME": str(home), "HF_HUB_OFFLINE": "1", "TERM": "xterm-256color",
           **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {})}
    terminal = Terminal([str(SCRIBE), "open", "models"], env, tmp_path)
    terminals.append(terminal)
    terminal.wait_for("● ready")
    terminal.keys("A list of models", literal=True)
    terminal.wait_for("A list of models")
    terminal.keys("C-s")
    terminal.wait(lambda: (tmp_path / "models").exists(), "the document named models on disk")
    terminal.keys("C-q")
    terminal.wait(lambda: not terminal.alive(), "scribe to quit")
    assert (tmp_path / "models").read_text(encoding="utf-8").strip() == "A list of models"
