"""`scribe generate` with context tools, run as a user runs it (a subprocess) with the bundled model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODEL = str(REPO / "models" / "scribe-gutenberg")


def scribe(*args: str, home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SCRIBE_HOME": str(home), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "scribe", *args], capture_output=True, text=True, env=env,
                          timeout=300, cwd=cwd)


SILLYTAVERN = {"entries": {
    "0": {"uid": 0, "key": ["Mara"], "keysecondary": [], "comment": "Mara", "content": "Mara Voss captains the Heron.",
          "constant": False, "selective": True, "order": 100, "disable": False, "caseSensitive": None},
    "1": {"uid": 1, "key": ["/dragons?/i"], "comment": "Dragons", "content": "Dragons nest in the cliffs.",
          "constant": False, "order": 50, "disable": False},
    "2": {"uid": 2, "key": ["lamps"], "comment": "Off", "content": "Never shown.", "order": 10, "disable": True},
    "3": {"uid": 3, "key": [], "comment": "World", "content": "The world is an archipelago.", "constant": True,
          "order": 5, "disable": False},
}}


def test_show_prompt_prints_the_assembled_prompt_and_exits(tmp_path: Path) -> None:
    (tmp_path / "memory.txt").write_text("A story of the sea, told tersely.\n", encoding="utf-8")
    (tmp_path / "world.json").write_text(json.dumps(SILLYTAVERN), encoding="utf-8")
    (tmp_path / "story.txt").write_text("The night was long.\n\nThe lamps burned low.\n\nMara saw a dragon and",
                                        encoding="utf-8")
    result = scribe("generate", "--model", MODEL, "-f", "story.txt", "--memory", "memory.txt", "--note",
                    "[Mood: dread]", "--note-depth", "1", "--lorebook", "world.json", "--show-prompt",
                    home=tmp_path / "home", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("A story of the sea, told tersely.\n"
                             "The world is an archipelago.\n"      # always on, order 5
                             "Dragons nest in the cliffs.\n"       # regex key, order 50
                             "Mara Voss captains the Heron.\n"     # order 100
                             "The night was long.\n\nThe lamps burned low.\n\n"
                             "[Mood: dread]\n\n"
                             "Mara saw a dragon and")
    assert "Dragons (key '/dragons?/i' in the story)" in result.stderr
    assert "World (always on)" in result.stderr
    assert "Never shown" not in result.stdout


def test_a_long_story_is_cut_at_a_paragraph_to_fit_the_bundled_models_context(tmp_path: Path) -> None:
    story = "\n".join(f"Line {i} of the long watch on the northern wall." for i in range(200))
    (tmp_path / "story.txt").write_text(story, encoding="utf-8")
    result = scribe("generate", "--model", MODEL, "-f", "story.txt", "--note", "[N]", "--max-new-tokens", "64",
                    "--show-prompt", home=tmp_path / "home", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    prompt = result.stdout
    assert prompt.startswith("Line ") and prompt.endswith("Line 199 of the long watch on the northern wall.")
    assert "Line 0 of" not in prompt
    assert story.endswith(prompt.replace("[N]\n", ""))  # whole lines, the note inside
    assert prompt.split("\n")[-4] == "[N]"  # three paragraphs (lines) after the note
    first_line = prompt.split("\n")[0]
    assert story.startswith(first_line) or "\n" + first_line + "\n" in story
    assert "cut     story" in result.stderr


def test_bad_lorebook_is_named_and_nothing_is_generated(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text('[[entry]]\nkeys = ["a"]\ntext = "x"\ncolour = "red"\n', encoding="utf-8")
    result = scribe("generate", "--model", MODEL, "-p", "x", "--lorebook", "bad.toml", home=tmp_path / "home",
                    cwd=tmp_path)
    assert result.returncode != 0
    assert "bad.toml" in result.stderr and "unknown field(s) colour" in result.stderr
    assert result.stdout == ""


def test_stop_newline_is_a_newline_and_the_figures_go_to_stderr_on_their_own_line(tmp_path: Path) -> None:
    # a line of dialogue: the bundled model (trained on paragraphs, not hard-wrapped lines) ends it with a line break
    prompt = "“Where are you going?” she asked."
    result = scribe("generate", "--model", MODEL, "-p", prompt, "--stop", "\\n", "--max-new-tokens", "300",
                    "--seed", "1", home=tmp_path / "home", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout and "\n" not in result.stdout  # stopped at the first newline, which is not printed
    lines = result.stderr.splitlines()
    assert lines[0] == "" and lines[1].startswith("[") and "stopped: stop_string" in lines[1]
    double = scribe("generate", "--model", MODEL, "-p", prompt, "--stop", "\\n\\n", "--max-new-tokens", "300",
                    "--seed", "1", home=tmp_path / "home", cwd=tmp_path)
    assert double.returncode == 0, double.stderr
    assert "\n\n" not in double.stdout
    assert len(double.stdout) >= len(result.stdout)


def test_project_lists_word_counts_and_searches_chapters(tmp_path: Path) -> None:
    (tmp_path / "scribe-project.toml").write_text('chapters = ["b.txt", "a.txt"]\n', encoding="utf-8")
    (tmp_path / "a.txt").write_text("one two three\nMara sailed", encoding="utf-8")
    (tmp_path / "b.txt").write_text("four five", encoding="utf-8")
    listed = scribe("project", str(tmp_path), home=tmp_path / "home", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [line.split() for line in listed.stdout.splitlines()] == [
        ["1", "b.txt", "2", "words"], ["2", "a.txt", "5", "words"], ["total", "7", "words"]]
    found = scribe("project", str(tmp_path), "--search", "mara", home=tmp_path / "home", cwd=tmp_path)
    assert found.stdout == "a.txt:2: Mara sailed\n"
    missing = scribe("project", str(tmp_path / "a.txt"), home=tmp_path / "home", cwd=tmp_path)
    assert missing.returncode == 1 and "no scribe-project.toml" in missing.stderr
