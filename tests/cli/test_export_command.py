"""`scribe export`: Markdown with and without the branch tree, and the tree as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scribe.cli import main
from scribe.sampling.params import SamplingParams
from scribe.studio.branches import BranchTree, Generation, sidecar_path


@pytest.fixture
def story(tmp_path: Path) -> Path:
    file = tmp_path / "story.txt"
    file.write_text("It was late.", encoding="utf-8")
    tree = BranchTree()
    root = tree.anchor_for("It was")
    tree.finish(tree.add(root.id, Generation("tiny", None, SamplingParams(seed=1), (), 5)).id, " late", (), "eos")
    tree.save(sidecar_path(file))
    return file


def test_markdown_with_and_without_the_tree(story: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(story)]) == 0
    assert capsys.readouterr().out == "# story.txt\n\nIt was late.\n"
    assert main(["export", str(story), "--format", "md-tree"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# story.txt\n\nIt was late.\n") and "## Branches" in out and "- tiny, seed 1: late" in out


def test_json_to_a_file(story: Path, tmp_path: Path) -> None:
    target = tmp_path / "tree.json"
    assert main(["export", str(story), "-f", "json", "-o", str(target)]) == 0
    assert BranchTree.from_dict(json.loads(target.read_text())).to_dict() == BranchTree.load(sidecar_path(story)).to_dict()


def test_missing_files_are_errors_and_the_tree_needs_only_its_sidecar(
        story: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(tmp_path / "nope.txt")]) == 1
    assert "nope.txt: no such file" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "nope.txt"), "-f", "json"]) == 1
    assert "nope.txt.scribe.json: no such file" in capsys.readouterr().err
    story.unlink()  # a document never saved, whose tree was
    assert main(["export", str(story), "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "scribe-branches"
