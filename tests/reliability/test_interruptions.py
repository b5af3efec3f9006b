"""§5 Training interruptions and full disks: a damaged checkpoint file (any of them) is named in the error with what
to do; a full disk while checkpointing or saving says "no space left on device" with the path, removes temporary
folders and files, and leaves the previous checkpoint or file untouched."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from scribe.studio.document import Document, DocumentError
from scribe.training.checkpoint import (OPTIMIZER_FILE, RNG_FILE, STATE_FILE, WEIGHTS_FILE, CheckpointError,
                                        DamagedCheckpoint, TrainState, load_checkpoint, save_checkpoint)


def _save(folder: Path, step: int, size: int = 16) -> None:
    import torch

    weights = {"w": torch.arange(size, dtype=torch.float32)}
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
    save_checkpoint(folder, weights, optimizer.state_dict(), TrainState(step=step))


@pytest.mark.parametrize("damaged", [STATE_FILE, WEIGHTS_FILE, OPTIMIZER_FILE, RNG_FILE])
@pytest.mark.parametrize("how", ["truncated", "garbage", "missing", "wrong shape"])
def test_a_damaged_checkpoint_file_is_named_with_what_to_do(tmp_path: Path, damaged: str, how: str) -> None:
    folder = tmp_path / "job" / "checkpoint"
    _save(folder, step=3)
    file = folder / damaged
    if how == "truncated":
        file.write_bytes(file.read_bytes()[: max(1, file.stat().st_size // 3)])
    elif how == "garbage":
        file.write_bytes(os.urandom(200))
    elif how == "missing":
        file.unlink()
    else:
        file.write_bytes(b'{"step": "three", "colour": 1}' if damaged == STATE_FILE else b"[1, 2, 3]")
    with pytest.raises(DamagedCheckpoint) as caught:
        load_checkpoint(folder)
    message = str(caught.value)
    assert str(file) in message and "--resume" in message and len(message.splitlines()) == 1, message


def test_an_intact_checkpoint_still_loads(tmp_path: Path) -> None:
    _save(tmp_path / "checkpoint", step=5)
    assert load_checkpoint(tmp_path / "checkpoint").state.step == 5


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 256 kB file system (tmpfs), where a mount is allowed (root); skipped elsewhere."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                      capture_output=True, check=False).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_while_checkpointing_keeps_the_previous_one(small_disk: Path) -> None:
    folder = small_disk / "job" / "checkpoint"
    _save(folder, step=1)
    with pytest.raises(CheckpointError) as caught:
        _save(folder, step=2, size=200_000)  # 800 kB of weights on a 256 kB disk
    assert "No space left on device" in str(caught.value) and str(folder.parent) in str(caught.value)
    assert load_checkpoint(folder).state.step == 1
    assert sorted(p.name for p in folder.parent.iterdir()) == ["checkpoint"]


def test_a_full_disk_while_saving_a_document_keeps_the_file(small_disk: Path) -> None:
    file = small_disk / "story.txt"
    file.write_text("the saved text", encoding="utf-8")
    doc = Document.open(file)
    with pytest.raises(DocumentError) as caught:
        doc.save("x" * 600_000)
    assert "no space left on device" in str(caught.value) and str(file) in str(caught.value)
    assert file.read_text(encoding="utf-8") == "the saved text"
    assert sorted(p.name for p in small_disk.iterdir()) == ["story.txt"]
