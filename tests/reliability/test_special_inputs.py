"""§3 Special inputs: a fifo, a device, a socket or a folder where a file belongs is refused with one line and never
hangs; reads are bounded; a NUL byte anywhere marks a file binary; a Western cp1252 file is read as cp1252. Each case
runs in a child process with a timeout, so a hang fails the test instead of stopping it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from scribe.config import ConfigError, Paths, load_settings
from scribe.studio.document import Document, DocumentError
from scribe.studio.presets import PresetError, read_preset

REPO = Path(__file__).resolve().parents[2]
READERS = {
    "document": "from scribe.studio.document import Document; Document.open(PATH)",
    "prompt file": ("import argparse, io; from scribe.commands.generate import read_prompt; "
                    "read_prompt(argparse.Namespace(prompt=None, prompt_file=PATH), io.StringIO())"),
    "preset": "from scribe.studio.presets import read_preset; from pathlib import Path; read_preset(Path(PATH))",
    "settings": ("import pathlib; from scribe.config import Paths, load_settings; p = pathlib.Path(PATH).parent; "
                 "load_settings(Paths(config=p, data=p, cache=p, log=p), {})"),
}


def _special(kind: str, folder: Path) -> Path:
    """`folder/config.toml` made a `kind` (fifo, socket, folder, or a link to a device): what a reader is handed."""
    path = folder / "config.toml"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        socket.socket(socket.AF_UNIX).bind(str(path))
    elif kind == "folder":
        path.mkdir()
    else:
        path.symlink_to(kind)
    return path


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("kind", ["fifo", "socket", "folder", "/dev/zero", "/dev/null", "/dev/urandom"])
def test_a_special_file_is_refused_in_one_line_without_hanging(tmp_path: Path, reader: str, kind: str) -> None:
    path = _special(kind, tmp_path)
    code = READERS[reader].replace("PATH", repr(str(path)))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=20, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode != 0, f"{reader} read {kind} as if it were a file"
    last = result.stderr.strip().splitlines()[-1]
    assert str(path) in last, last
    assert any(word in last for word in ("fifo", "socket", "folder", "device", "not a regular file")), last


def test_a_nul_byte_anywhere_marks_a_file_binary(tmp_path: Path) -> None:
    file = tmp_path / "late-nul.txt"
    file.write_bytes(b"plain text. " * 10_000 + b"\x00" + b"more text")
    with pytest.raises(DocumentError, match="binary"):
        Document.open(file)


@pytest.mark.parametrize("text", ["\u201cSmart quotes\u201d \u2013 and a dash \u2014 it\u2019s Western\u2026",
                                  "Caf\u00e9 na\u00efve \u00a3 \u20ac \u2018single\u2019"])
def test_a_western_cp1252_file_is_read_as_cp1252_and_saved_back_the_same_way(tmp_path: Path, text: str) -> None:
    file = tmp_path / "windows.txt"
    file.write_bytes(text.encode("cp1252"))
    doc = Document.open(file)
    assert doc.saved_text == text and doc.encoding == "cp1252"
    doc.save(text + " More.")
    assert file.read_bytes() == (text + " More.").encode("cp1252")


def test_a_cp1252_file_given_characters_cp1252_lacks_is_not_saved_half(tmp_path: Path) -> None:
    file = tmp_path / "windows.txt"
    file.write_bytes("\u201cquoted\u201d".encode("cp1252"))
    doc = Document.open(file)
    with pytest.raises(DocumentError, match="cp1252"):
        doc.save("\u201cquoted\u201d and \u4e2d\u6587")
    assert file.read_bytes() == "\u201cquoted\u201d".encode("cp1252")


def test_utf8_stays_utf8(tmp_path: Path) -> None:
    file = tmp_path / "utf8.txt"
    file.write_text("\u201cSmart\u201d \u2013 \u00e9", encoding="utf-8")
    assert Document.open(file).encoding == "utf-8"


def test_files_larger_than_the_limit_are_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    with open(big, "wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: claims 50 MB
    with pytest.raises(PresetError, match="bytes"):
        read_preset(big)
    big.rename(tmp_path / "config.toml")
    with pytest.raises(ConfigError, match="bytes"):
        load_settings(Paths(config=tmp_path, data=tmp_path, cache=tmp_path, log=tmp_path), {})
