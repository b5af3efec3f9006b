"""Loading model folders: clear one-line errors for broken folders, pickled weights only when they hold tensors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from scribe.engine.base import ModelLoadError
from scribe.engine.registry import load_model
from scribe.engine.transformers_backend import TransformersBackend
from scribe.sampling.params import SamplingParams

GREEDY = SamplingParams(temperature=0.0, max_new_tokens=8)


def _copy(source: Path, target: Path, *, leave_out: tuple[str, ...] = ()) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*leave_out))
    for file in target.iterdir():
        file.chmod(0o644)
    return target


def _load_error(path: Path, device: str = "cpu", dtype: str = "auto") -> str:
    with pytest.raises(ModelLoadError) as caught:
        TransformersBackend.load(path, device=device, dtype=dtype)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_missing_folder(tmp_path: Path) -> None:
    message = _load_error(tmp_path / "gone")
    assert message == f"{tmp_path / 'gone'}: no such folder"


def test_a_folder_without_config(tmp_path: Path, tiny_model_dir: Path) -> None:
    folder = _copy(tiny_model_dir, tmp_path / "m", leave_out=("config.json",))
    assert "no config.json" in _load_error(folder)


def test_a_folder_without_weights(tmp_path: Path, tiny_model_dir: Path) -> None:
    folder = _copy(tiny_model_dir, tmp_path / "m", leave_out=("*.safetensors",))
    assert "no weights" in _load_error(folder)


def test_a_folder_without_tokenizer(tmp_path: Path, tiny_model_dir: Path) -> None:
    folder = _copy(tiny_model_dir, tmp_path / "m", leave_out=("vocab.json", "merges.txt", "tokenizer*", "special*"))
    assert "no tokenizer" in _load_error(folder)


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_damaged_safetensors(tmp_path: Path, tiny_model_dir: Path, damage: str) -> None:
    folder = _copy(tiny_model_dir, tmp_path / "m")
    weights = folder / "model.safetensors"
    if damage == "truncated":
        data = weights.read_bytes()
        weights.write_bytes(data[: len(data) // 2])
    else:
        weights.write_bytes(b"\x00\x01not a safetensors file" * 100)
    message = _load_error(folder)
    assert message.startswith(f"{folder}: cannot load the weights (safetensors): ")
    assert "Traceback" not in message


def test_unknown_device_and_dtype(tiny_model_dir: Path) -> None:
    assert "unknown device 'gpu0'" in _load_error(tiny_model_dir, device="gpu0")
    assert "unknown dtype 'float8'" in _load_error(tiny_model_dir, dtype="float8")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_asked_for_without_cuda(tiny_model_dir: Path) -> None:
    assert "no CUDA" in _load_error(tiny_model_dir, device="cuda")


def test_explicit_dtype_is_used(tiny_model_dir: Path) -> None:
    backend = TransformersBackend.load(tiny_model_dir, device="cpu", dtype="bfloat16")
    assert backend.info.dtype == "bfloat16"
    end = list(backend.stream("Hi", GREEDY))[-1]
    assert end.error is None


def _state_dict_folder(source: Path, target: Path) -> Path:
    """The model at `source` with its weights as a pickled state dict (pytorch_model.bin) instead of safetensors."""
    from transformers import AutoModelForCausalLM

    folder = _copy(source, target, leave_out=("*.safetensors",))
    model = AutoModelForCausalLM.from_pretrained(source)
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    return folder


def test_pickled_state_dict_loads_and_gives_the_same_text(tmp_path: Path, sharp_model_dir: Path, sharp_backend) -> None:
    folder = _state_dict_folder(sharp_model_dir, tmp_path / "bin-model")
    backend = load_model(str(folder), device="cpu")
    assert backend.info.extra["weights"] == "pytorch_model.bin"
    bin_end = list(backend.stream("Once upon a time", GREEDY))[-1]
    safetensors_end = list(sharp_backend.stream("Once upon a time", GREEDY))[-1]
    assert bin_end.text == safetensors_end.text and bin_end.tokens == 8


class _Payload:
    """Unpickling this would create a file: code, not tensors."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_pickle_that_runs_code_is_refused(tmp_path: Path, tiny_model_dir: Path) -> None:
    folder = _copy(tiny_model_dir, tmp_path / "evil", leave_out=("*.safetensors",))
    marker = tmp_path / "pwned"
    torch.save({"transformer.wte.weight": torch.zeros(2), "payload": _Payload(marker)}, folder / "pytorch_model.bin")
    message = _load_error(folder)
    assert message.startswith(f"{folder}: cannot load the weights (pytorch_model.bin): refused")
    assert not marker.exists()
