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


def test_a_model_saved_by_save_pretrained_gets_the_usual_permissions(tmp_path: Path) -> None:
    """transformers writes its weights through a private temporary file (mode 0600); a writer's model folder is
    readable like any other file they save (0666 less the umask)."""
    import os
    import stat

    from transformers import GPT2Config, GPT2LMHeadModel

    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=8, vocab_size=16, n_positions=8))
    folder = tmp_path / "model"
    old = os.umask(0o022)
    try:
        replace_folder(folder, model.save_pretrained)
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
    assert "model.safetensors" in modes and set(modes.values()) == {0o644}, modes
