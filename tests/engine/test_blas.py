"""One-row float32 products through numpy's OpenBLAS: when scribe picks it, that the products and whole streams of
real tiny GPT-2 and Llama models match PyTorch's, and how a step's threads are split between the two pools."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from threadpoolctl import ThreadpoolController

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiny_models import streamed_tokens  # noqa: E402

from scribe.engine.base import ModelLoadError  # noqa: E402
from scribe.engine.blas import cpu_vendor, numpy_has_openblas, openblas_preferred  # noqa: E402
from scribe.engine.gpt2_light import load_light  # noqa: E402
from scribe.engine.one_row import Projection, attend_one, attend_one_openblas  # noqa: E402
from scribe.engine.threads import StepThreads  # noqa: E402
from scribe.engine.transformers_backend import TransformersBackend  # noqa: E402
from scribe.sampling.params import SamplingParams  # noqa: E402

PROMPT = "The old lighthouse keeper looked at the sea and"


def cpuinfo(tmp_path: Path, vendor: str) -> Path:
    path = tmp_path / f"cpuinfo-{vendor}"
    path.write_text(f"processor\t: 0\nvendor_id\t: {vendor}\ncpu family\t: 25\n", encoding="ascii")
    return path


def test_scribe_picks_openblas_on_amd_and_the_writer_can_decide(tmp_path: Path) -> None:
    assert numpy_has_openblas(), "numpy's wheels bring OpenBLAS"
    amd, intel = cpuinfo(tmp_path, "AuthenticAMD"), cpuinfo(tmp_path, "GenuineIntel")
    assert cpu_vendor(amd) == "AuthenticAMD" and cpu_vendor(tmp_path / "missing") is None
    assert openblas_preferred({}, amd)
    assert not openblas_preferred({}, intel)
    assert not openblas_preferred({}, tmp_path / "missing"), "an unknown CPU keeps PyTorch's products"
    assert openblas_preferred({"SCRIBE_BLAS": " OpenBLAS "}, intel)
    assert not openblas_preferred({"SCRIBE_BLAS": "torch"}, amd)
    with pytest.raises(ValueError, match="SCRIBE_BLAS='mkl': use openblas or torch"):
        openblas_preferred({"SCRIBE_BLAS": "mkl"}, amd)


@pytest.mark.parametrize("out_in", [False, True], ids=["stored-in-out", "stored-out-in"])
@pytest.mark.parametrize("biased", [False, True], ids=["no-bias", "bias"])
def test_a_projection_multiplies_the_same_through_openblas(out_in: bool, biased: bool) -> None:
    generator = torch.Generator().manual_seed(0)
    stored = torch.randn((48, 40) if out_in else (40, 48), generator=generator)
    weight = stored.t() if out_in else stored  # the [in, out] view, whichever way it is stored
    bias = torch.randn(48, generator=generator) if biased else None
    torch_side, blas_side = Projection(weight, bias), Projection(weight, bias)
    blas_side.multiply_rows_with_openblas()
    assert blas_side.array is not None and blas_side.array.ctypes.data == stored.data_ptr(), "the same memory"
    row, rows = torch.randn(1, 40, generator=generator), torch.randn(3, 40, generator=generator)
    with torch.inference_mode():
        assert torch.allclose(blas_side(row), torch_side(row), atol=1e-5)
        assert torch.equal(blas_side(rows), torch_side(rows)), "several rows stay with PyTorch"
    assert not torch.equal(torch_side(row), torch.zeros(1, 48))


@pytest.mark.parametrize(("heads", "kv_heads", "scale"), [(4, 4, 0.125), (6, 2, 1.0)], ids=["gpt2", "grouped"])
def test_one_position_attends_the_same_through_openblas(heads: int, kv_heads: int, scale: float) -> None:
    generator = torch.Generator().manual_seed(1)
    cache = torch.randn(2, kv_heads, 40, 16, generator=generator)  # keys and values, capacity 40, as a decoder's
    q = torch.randn(heads, 1, 16, generator=generator)
    for end in (1, 7, 40):
        keys_t, values = cache[0, :, :end].transpose(1, 2), cache[1, :, :end]
        expected = attend_one(q, keys_t, values, scale)
        assert expected.shape == (heads, 1, 16)
        assert torch.allclose(attend_one_openblas(q, keys_t, values, scale), expected, atol=1e-5)
    assert not torch.allclose(attend_one_openblas(q, keys_t, values, scale), attend_one(q, keys_t, values, 0.5))


def test_only_float32_cpu_weights_go_to_openblas() -> None:
    with pytest.raises(ValueError, match="float32 weights on the CPU, not torch.bfloat16"):
        Projection(torch.zeros(4, 4, dtype=torch.bfloat16), None).multiply_rows_with_openblas()


def test_a_step_runs_torch_on_one_thread_and_the_products_on_the_step_count() -> None:
    threads = torch.get_num_threads()
    openblas = ThreadpoolController().select(internal_api="openblas")
    steps = StepThreads(2)
    steps.openblas = True
    with steps.scope(prompt=False):
        assert torch.get_num_threads() == 1
        assert [info["num_threads"] for info in openblas.info()] == [2]
    assert torch.get_num_threads() == threads, "torch's count is given back"
    steps.fixed = 1
    with steps.scope(prompt=False):
        assert [info["num_threads"] for info in openblas.info()] == [1]
    with steps.scope(prompt=True):
        assert torch.get_num_threads() == threads, "a prompt runs on torch's own setting"


@pytest.mark.parametrize("model", ["gpt2", "gpt2-quick-start", "llama"])
def test_streams_through_openblas_match_pytorch(model: str, sharp_model_dir: Path, llama_folder: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    folder = llama_folder if model == "llama" else sharp_model_dir
    monkeypatch.setenv("SCRIBE_NATIVE", "0")  # OpenBLAS is the float32 path where the native kernels are off
    streams = {}
    for choice in ("openblas", "torch"):
        monkeypatch.setenv("SCRIBE_BLAS", choice)
        if model == "gpt2-quick-start":
            backend = load_light(folder, name=choice)
        else:
            backend = TransformersBackend.load(folder, name=choice, device="cpu")
        projections = [p for layer in backend._steps.layers for p in layer.projections()] + [backend._steps.lm_head]
        assert all((p.array is not None) == (choice == "openblas") for p in projections)
        assert backend._step_threads.openblas == (choice == "openblas")
        assert backend._steps.attend is (attend_one_openblas if choice == "openblas" else attend_one)
        streams[choice] = (streamed_tokens(backend, PROMPT, SamplingParams(temperature=0.0, max_new_tokens=12)),
                           streamed_tokens(backend, PROMPT, SamplingParams(temperature=0.9, top_k=20, max_new_tokens=12, seed=4)))
    for (blas_ids, blas_probs), (torch_ids, torch_probs) in zip(streams["openblas"], streams["torch"]):
        assert blas_ids == torch_ids
        assert torch.allclose(torch.tensor(blas_probs), torch.tensor(torch_probs), atol=1e-4)


def test_int8_keeps_its_own_products(sharp_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRIBE_BLAS", "openblas")
    monkeypatch.setenv("SCRIBE_NATIVE", "0")
    int8 = TransformersBackend.load(sharp_model_dir, name="int8", device="cpu", dtype="int8")
    assert int8._steps.quantized and not int8._step_threads.openblas
    assert int8._steps.lm_head.array is None and int8._steps.attend is attend_one


def test_a_wrong_choice_is_refused_with_its_name(sharp_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRIBE_BLAS", "fast")
    with pytest.raises(ModelLoadError, match="SCRIBE_BLAS='fast': use openblas or torch"):
        TransformersBackend.load(sharp_model_dir, name="wrong", device="cpu")
    with pytest.raises(ModelLoadError, match="SCRIBE_BLAS='fast': use openblas or torch"):
        load_light(sharp_model_dir, name="wrong")
