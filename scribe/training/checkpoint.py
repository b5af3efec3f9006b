"""Resumable training checkpoints and atomic folder writes.

A checkpoint is a folder holding the trainable weights (`weights.safetensors`: every parameter for full training, the
adapters for LoRA), the optimiser state (`optimizer.pt`), the RNG state of torch, CUDA and Python (`rng.pt`), and
`state.json`: the step (which is also the data position, since each step's batch is drawn from a generator seeded with
the run's seed and the step), the schedule, tokens seen, time spent and the evaluation history. It is written to a
temporary sibling and swapped into place, so a crash or SIGKILL at any moment leaves either the previous checkpoint or
the new one, never a mixture (the files are fsynced before the swap, the parent folder after it); a full disk leaves the
previous one and raises CheckpointError.
"""

from __future__ import annotations

import errno
import json
import os
import random
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from scribe.files import replace_folder

if TYPE_CHECKING:
    import torch

STATE_FILE = "state.json"
WEIGHTS_FILE = "weights.safetensors"
OPTIMIZER_FILE = "optimizer.pt"
RNG_FILE = "rng.pt"


class CheckpointError(OSError):
    """A checkpoint or model folder could not be written (disk full, file too large, permissions)."""

    def __str__(self) -> str:
        return str(self.strerror)


class DamagedCheckpoint(ValueError):
    """A checkpoint file that cannot be read back; the message names the file and what to do."""


@dataclass
class TrainState:
    """Where a run stands: everything besides tensors that a resumed run needs."""

    step: int = 0
    tokens: int = 0
    elapsed_s: float = 0.0
    train_loss: float | None = None
    last_eval: dict[str, Any] | None = None
    """The latest Eval event as a dict."""
    base_eval: dict[str, Any] | None = None
    """The base model's Eval (step 0) when fine-tuning."""
    best_eval: dict[str, Any] | None = None
    """The Eval with the lowest validation loss so far."""
    evals_since_best: int = 0
    lr: float | None = None
    """The learning rate of the last step (the schedule is a function of step and elapsed time)."""
    fingerprint: str = ""
    """Hash of the settings that must not change across a resume (data, model, batch, schedule)."""
    history: list[dict[str, Any]] = field(default_factory=list)
    """Every evaluation's figures and samples, written with the model as `metrics.jsonl` (`scribe.training.curves`)."""


def write_atomically(folder: Path, fill: Callable[[Path], None], what: str) -> None:
    """Create `folder` by letting `fill` write a temporary sibling, then swap it into place (scribe.files'
    `replace_folder`). OSError becomes CheckpointError naming `what` and the cause."""
    try:
        replace_folder(folder, fill)
    except Exception as exc:
        code = _io_errno(exc)
        if code is None:
            raise
        raise CheckpointError(code, f"cannot write {what} in {folder.parent}: {_cause(code, exc)}") from None


def _io_errno(exc: Exception) -> int | None:
    """The errno of a failed write: OSError's own, or the one safetensors' Rust writer puts in its message."""
    if isinstance(exc, OSError):
        return exc.errno or errno.EIO
    found = re.search(r"\(os error (\d+)\)", str(exc))
    return int(found.group(1)) if found and type(exc).__name__ == "SafetensorError" else None


def _cause(code: int, exc: Exception) -> str:
    if code == errno.ENOSPC:
        return "the disk is full (No space left on device)"
    if code == errno.EFBIG:
        return "a file grew past the size this file system or process allows (File too large)"
    return os.strerror(code) if not isinstance(exc, OSError) else exc.strerror or str(exc)


def save_checkpoint(
    folder: Path, weights: dict[str, "torch.Tensor"], optimizer_state: dict[str, Any], state: TrainState
) -> None:
    """Write the checkpoint folder atomically (see the module docstring)."""
    import torch
    from safetensors.torch import save_file

    def fill(tmp: Path) -> None:
        save_file({k: v.detach().to("cpu").contiguous() for k, v in weights.items()}, str(tmp / WEIGHTS_FILE))
        torch.save(optimizer_state, tmp / OPTIMIZER_FILE)
        torch.save(rng_state(), tmp / RNG_FILE)
        (tmp / STATE_FILE).write_text(json.dumps(asdict(state), indent=1), encoding="utf-8")

    write_atomically(folder, fill, f"the checkpoint for step {state.step}")


@dataclass
class Loaded:
    """A checkpoint read back."""

    state: TrainState
    weights: dict[str, "torch.Tensor"]
    optimizer_state: dict[str, Any]
    rng: dict[str, Any]


def find_checkpoint(folder: Path) -> Path | None:
    """The checkpoint folder to resume from: `folder`, or the previous one left by a crash during the swap."""
    if (folder / STATE_FILE).is_file():
        return folder
    olds = sorted(folder.parent.glob(f".{folder.name}.old-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    return next((p for p in olds if (p / STATE_FILE).is_file()), None)


def load_checkpoint(folder: Path) -> Loaded:
    """Read a checkpoint written by save_checkpoint (tensors only: nothing in it can run code)."""
    import torch
    from safetensors.torch import load_file

    def read(name: str, load: Callable[[Path], Any], kind: type | tuple[type, ...]) -> Any:
        file = folder / name
        try:
            value = load(file)
        except Exception as exc:  # every reader's failure (JSON, safetensors, torch's unpickler, OS) means the same
            raise _damaged(file, folder, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
        if not isinstance(value, kind):
            raise _damaged(file, folder, f"holds a {type(value).__name__}")
        return value

    def state_of(file: Path) -> TrainState:
        data = json.loads(file.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"a JSON {type(data).__name__}, not an object")
        state = TrainState(**data)
        if not isinstance(state.step, int) or isinstance(state.step, bool):
            raise ValueError(f"step is {state.step!r}")
        return state

    return Loaded(
        state=read(STATE_FILE, state_of, TrainState),
        weights=read(WEIGHTS_FILE, lambda f: load_file(str(f)), dict),
        optimizer_state=read(OPTIMIZER_FILE, lambda f: torch.load(f, weights_only=True), dict),
        rng=read(RNG_FILE, lambda f: torch.load(f, weights_only=True), dict),
    )


def _damaged(file: Path, folder: Path, reason: str) -> DamagedCheckpoint:
    return DamagedCheckpoint(f"{file}: damaged checkpoint file ({reason}); run again without --resume to start "
                             f"over, or delete {folder} (the model saved at the end of a run is not affected)")


def rng_state() -> dict[str, Any]:
    """The torch, CUDA and Python random generators' states."""
    import torch

    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what rng_state() returned."""
    import torch

    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
