"""The installed command line, run as a user runs it: in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

def scribe(*args: str, home: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SCRIBE_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "scribe", *args], input=stdin, capture_output=True, text=True, env=env, timeout=120
    )


def test_version_and_help(tmp_path):
    from scribe import __version__

    assert scribe("--version", home=tmp_path).stdout.strip() == f"scribe {__version__}"
    help_text = scribe("--help", home=tmp_path).stdout
    for command in ("tui", "generate", "train", "locate"):
        assert command in help_text


def test_locate_prints_every_directory_under_scribe_home(tmp_path):
    result = scribe("locate", home=tmp_path)
    assert result.returncode == 0
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines())
    for name in ("config", "data", "cache", "log", "models", "autosave"):
        assert lines[name].startswith(str(tmp_path)), name
    assert "hf-cache" in lines and "bundled" in lines
    assert scribe("locate", "data", home=tmp_path).stdout.strip() == str(tmp_path / "data")


def test_generate_streams_text_reproducibly_with_a_seed(tmp_path, tiny_model_dir):
    args = ("generate", "--model", str(tiny_model_dir), "--prompt", "Once upon a time", "--max-new-tokens", "12",
            "--seed", "3")
    first, second = scribe(*args, home=tmp_path), scribe(*args, home=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert first.stdout.strip()
    assert "12 tokens" in first.stderr


def test_generate_json_prints_a_token_per_line_with_alternatives(tmp_path, tiny_model_dir):
    result = scribe(
        "generate", "--model", str(tiny_model_dir), "--max-new-tokens", "5", "--seed", "1", "--top-k", "20", "--json",
        "--alternatives", "3", home=tmp_path, stdin="The cat",
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    tokens, end = records[:-1], records[-1]
    assert [r["type"] for r in tokens] == ["token"] * 5 and end["type"] == "end"
    for record in tokens:
        assert len(record["alternatives"]) == 3
        assert 0.0 < record["raw_prob"] <= 1.0 and 0.0 < record["final_prob"] <= 1.0
    assert end["tokens"] == 5 and end["reason"] == "max_tokens"
    assert end["text"] == "".join(r["text"] for r in tokens)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--model", "no-such-model", "--prompt", "x"), "no-such-model"),
        (("--prompt", "x", "--temperature", "hot"), "temperature"),
        (("--prompt", "x", "--top-p", "2"), "top_p"),
    ],
)
def test_generate_errors_are_one_line_with_nonzero_exit(tmp_path, tiny_model_dir, args, message):
    model = () if "--model" in args else ("--model", str(tiny_model_dir))
    result = scribe("generate", *model, *args, home=tmp_path)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_generate_refuses_a_binary_prompt_file(tmp_path, tiny_model_dir):
    binary = tmp_path / "image.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    result = scribe("generate", "--model", str(tiny_model_dir), "--prompt-file", str(binary), home=tmp_path)
    assert result.returncode == 1 and "binary file" in result.stderr


def test_generate_names_the_settings_a_remote_server_cannot_apply(tmp_path):
    from servers.openai_server import CompletionServer

    with CompletionServer() as server:
        added = scribe("models", "add-remote", "lab", server.url, "--model", server.model, home=tmp_path)
        assert added.returncode == 0, added.stderr
        result = scribe("generate", "-m", "remote:lab", "--prompt", "Once", "--max-new-tokens", "4", "--min-p", "0.1",
                        "--top-p", "0.9", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "note: remote:lab cannot apply min_p; not used" in result.stderr
    assert result.stdout.strip()


@pytest.mark.parametrize(("typed", "meant"), [("modles", "models"), ("trian", "train"), ("locat", "locate")])
def test_a_mistyped_command_names_the_nearest_one_and_opens_nothing(tmp_path, typed, meant):
    result = subprocess.run([sys.executable, "-m", "scribe", typed], capture_output=True, text=True, timeout=120,
                            cwd=tmp_path, env={**os.environ, "SCRIBE_HOME": str(tmp_path / "home")})
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"scribe: error: {typed!r} is not a command: did you mean {meant}? (to open or create a file named "
        f"{typed!r}: scribe open {typed})"]
    assert not (tmp_path / typed).exists()


def test_the_command_comes_first_and_files_named_like_commands_have_two_ways_in(tmp_path, monkeypatch):
    from scribe.cli import with_command

    monkeypatch.chdir(tmp_path)
    assert with_command([]) == ["tui"]
    assert with_command(["story.txt"]) == ["tui", "story.txt"]  # not near any command: a new document
    assert with_command(["models", "list"]) == ["models", "list"]
    assert with_command(["open", "models"]) == ["open", "models"]
    assert with_command(["--", "models"]) == ["tui", "--", "models"]
    (tmp_path / "modles").write_text("an existing file wins over the typo\n")
    assert with_command(["modles"]) == ["tui", "modles"]
