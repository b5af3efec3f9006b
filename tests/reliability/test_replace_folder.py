"""Folders (models, checkpoints, cached tokenizers) are replaced whole or not at all."""

from pathlib import Path

import pytest

from scribe.files import replace_folder


def _write(text: str):
    def fill(tmp: Path) -> None:
        (tmp / "weights.txt").write_text(text, encoding="utf-8")
    return fill


def test_a_new_folder_replaces_the_old_one_whole(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    replace_folder(folder, _write("old"))
    (folder / "stale.txt").write_text("from the old folder", encoding="utf-8")
    replace_folder(folder, _write("new"))
    assert sorted(p.name for p in folder.iterdir()) == ["weights.txt"]
    assert (folder / "weights.txt").read_text(encoding="utf-8") == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"], "no temporary or old folder is left"


def test_a_failed_fill_leaves_the_old_folder_and_no_temporary(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    replace_folder(folder, _write("old"))

    def broken(tmp: Path) -> None:
        (tmp / "weights.txt").write_text("half", encoding="utf-8")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        replace_folder(folder, broken)
    assert (folder / "weights.txt").read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
