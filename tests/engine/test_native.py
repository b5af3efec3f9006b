"""scribe's native kernels (`scribe.engine.native`): built with this machine's compiler, checked against PyTorch's
own products and attention, and used by the decoders of real tiny models (with PyTorch's path as the reference)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from scribe.engine import native
from scribe.engine.native import FloatRows, Int8Rows, NativeKernels
from scribe.engine.one_row import Projection
from scribe.engine.transformers_backend import TransformersBackend
from scribe.sampling.params import SamplingParams
from tiny_models import save_tiny_llama, streamed_tokens

REPO = Path(__file__).resolve().parents[2]
PROMPT = "The quick brown fox"


@pytest.fixture(scope="module")
def kernels() -> NativeKernels:
    if shutil.which(os.environ.get("CC") or "cc") is None:
        pytest.skip("no C compiler here: scribe decodes on PyTorch's products (the rest of the suite covers them)")
    loaded = native.kernels()
    assert loaded is not None, f"the native kernels did not build here: {native.build_problem()}"
    return loaded


def test_the_library_is_built_once_into_the_cache_folder(scribe_home: Path, kernels: NativeKernels) -> None:
    library = native.built_library()
    assert library.is_file() and library.is_relative_to(scribe_home / "cache" / "native")
    built = library.stat().st_mtime_ns
    assert native.built_library() == library and library.stat().st_mtime_ns == built, "built a second time"


def test_a_compiler_that_fails_gives_a_one_line_reason(scribe_home: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    compiler = tmp_path / "cc"
    compiler.write_text("#!/bin/sh\n[ \"$1\" = --version ] && { echo 'broken cc 1.0'; exit 0; }\n"
                        "echo 'native_kernels.c:1: error: no luck' >&2\nexit 1\n")
    compiler.chmod(0o755)
    monkeypatch.setenv("CC", str(compiler))
    with pytest.raises(RuntimeError, match=r"^compiling native_kernels.c with .*/cc failed: native_kernels.c:1: error"):
        native.built_library()
    assert not any((scribe_home / "cache" / "native").glob("*/*.so")), "a failed build left a library behind"


@pytest.mark.parametrize("stage", ["compile", "link"])
def test_the_reason_is_the_line_that_names_the_problem(scribe_home: Path, tmp_path: Path, stage: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the compiler's warnings, and the linker's own line rather than the driver's closing word on it."""
    said = {"compile": "echo 'native_kernels.c:9: warning: loop not vectorized' >&2\n"
                       "echo 'native_kernels.c:32: error: _Float16 is not supported on this target' >&2\n",
            "link": "echo '/usr/bin/ld: cannot find -lomp: No such file or directory' >&2\n"
                    "echo 'cc: error: linker command failed with exit code 1' >&2\n"}[stage]
    fails_at = "-c" if stage == "compile" else "-shared"
    compiler = tmp_path / "cc"
    compiler.write_text("#!/bin/sh\n[ \"$1\" = --version ] && { echo 'cc 1.0'; exit 0; }\n"
                        f"case \"$*\" in *{fails_at}*) {said} exit 1;; esac\n"
                        "while [ $# -gt 1 ]; do [ \"$1\" = -o ] && touch \"$2\"; shift; done\nexit 0\n")
    compiler.chmod(0o755)
    monkeypatch.setenv("CC", str(compiler))
    expected = {"compile": "native_kernels.c:32: error: _Float16 is not supported on this target",
                "link": "/usr/bin/ld: cannot find -lomp: No such file or directory"}[stage]
    with pytest.raises(RuntimeError, match=f"failed: {expected}$"):
        native.built_library()


def test_switched_off_by_the_environment(monkeypatch: pytest.MonkeyPatch, float32_cache_backend) -> None:
    monkeypatch.setenv("SCRIBE_NATIVE", "0")
    assert native.kernels() is None
    assert native.build_problem() == "SCRIBE_NATIVE=0 switches them off"
    assert float32_cache_backend.slower_because is None, "switched off on purpose: no note about slower decoding"


def test_the_kernels_share_pytorchs_openmp_runtime(kernels: NativeKernels) -> None:
    """Opened after torch, the library's OpenMP calls bind to the libgomp PyTorch loaded: one pool of threads."""
    code = ("from scribe.engine import native\nassert native.kernels() is not None, native.build_problem()\n"
            "print(sorted({line.split()[-1] for line in open('/proc/self/maps') if 'libgomp' in line}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120,
                          env={**os.environ, "SCRIBE_NATIVE": "1"})
    assert done.returncode == 0, done.stderr
    libraries = eval(done.stdout)
    assert len(libraries) == 1 and "torch" in libraries[0], libraries


def test_loading_them_keeps_subnormal_floats(kernels: NativeKernels) -> None:
    """The library is linked without -ffast-math's start file, which would flush subnormal floats to zero in the whole
    process (hypothesis, numpy and every float of the writer's session)."""
    code = ("import sys\nfrom scribe.engine import native\nassert native.kernels() is not None, native.build_problem()\n"
            "print(sys.float_info.min / 2 > 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


@pytest.mark.parametrize(("inputs", "outputs", "rows"), [(64, 100, 1), (32, 16, 1), (96, 70, 5), (16, 3, 8), (7, 20, 2),
                                                      (40, 33, 3), (50, 17, 7)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_float_products_match_pytorchs(kernels: NativeKernels, inputs: int, outputs: int, rows: int,
                                       with_bias: bool) -> None:
    torch.manual_seed(inputs + outputs)
    weight, x = torch.randn(inputs, outputs), torch.randn(rows, inputs)
    bias = torch.randn(outputs) if with_bias else None
    expected = x @ weight + (bias if bias is not None else 0)
    assert torch.allclose(FloatRows(kernels, weight, bias)(x), expected, atol=1e-4)


@pytest.mark.parametrize(("inputs", "outputs", "rows"), [(768, 300, 1), (100, 70, 4), (2, 5, 1)])
def test_int8_products_stay_as_close_as_fbgemms(kernels: NativeKernels, inputs: int, outputs: int,
                                                rows: int) -> None:
    if not kernels.int8:
        pytest.skip("this CPU has no AVX-512 VNNI: int8 products stay with fbgemm")
    torch.manual_seed(inputs)
    weight, bias, x = torch.randn(inputs, outputs) * 0.05, torch.randn(outputs), torch.randn(rows, inputs)
    expected = x @ weight + bias
    fbgemm = Projection(weight, bias)
    fbgemm.quantize_int8()
    native_error = (Int8Rows(kernels, weight, bias)(x) - expected).norm() / expected.norm()
    fbgemm_error = (fbgemm(x) - expected).norm() / expected.norm()
    assert native_error < 0.01 and native_error <= max(fbgemm_error * 1.1, 1e-3), (native_error, fbgemm_error)


def test_an_int8_row_of_zeros_gives_the_bias(kernels: NativeKernels) -> None:
    if not kernels.int8:
        pytest.skip("this CPU has no AVX-512 VNNI: int8 products stay with fbgemm")
    bias = torch.arange(20.0)
    assert torch.equal(Int8Rows(kernels, torch.randn(64, 20), bias)(torch.zeros(1, 64)), bias[None])


@pytest.mark.parametrize(("size", "k"), [(50257, 64), (8192, 41), (100, 100), (37, 1), (1000, native.TOP_MAX)])
def test_the_partial_sort_finds_torchs_top_k(kernels: NativeKernels, size: int, k: int) -> None:
    torch.manual_seed(size)
    values = torch.randn(size) * 3
    expected = values.topk(k)
    positions = kernels.top_positions(values, k)
    assert torch.equal(positions, expected.indices) and torch.equal(values[positions], expected.values)


def test_the_partial_sort_ranks_equal_values_by_position(kernels: NativeKernels) -> None:
    values = torch.full((3000,), float("-inf"))
    values[[2900, 7, 1500]] = 2.0
    values[[42, 2999]] = 5.0
    assert kernels.top_positions(values, 7).tolist() == [42, 2999, 7, 1500, 2900, 0, 1]
    values = torch.arange(50000, dtype=torch.float32)  # every value passes the bar: the one pass gives up, topk answers
    assert kernels.top_positions(values, 3).tolist() == [49999, 49998, 49997]


def test_the_partial_sort_leaves_what_it_cannot_take_to_torch(kernels: NativeKernels) -> None:
    values = torch.randn(2000)
    assert torch.equal(kernels.top_positions(values, native.TOP_MAX + 1), values.topk(native.TOP_MAX + 1).indices)
    assert torch.equal(kernels.top_positions(values.double(), 5), values.double().topk(5).indices)
    assert torch.equal(kernels.top_positions(values[::2], 5), values[::2].topk(5).indices)
    assert kernels.top_positions(values, 0).numel() == 0


@pytest.mark.parametrize("model", ["gpt2", "llama"])
def test_float32_streams_through_the_kernels_match_pytorchs(model: str, sharp_model_dir: Path, llama_folder: Path,
                                                           kernels: NativeKernels,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    folder = llama_folder if model == "llama" else sharp_model_dir
    monkeypatch.setenv("SCRIBE_BLAS", "torch")
    streams = {}
    for switch in ("1", "0"):
        monkeypatch.setenv("SCRIBE_NATIVE", switch)
        backend = TransformersBackend.load(folder, name=f"native-{switch}", device="cpu")
        steps = backend._steps
        assert (steps.kernels is kernels and steps.layer_arguments is not None) == (switch == "1")
        assert (backend._ranker is not None) == (switch == "1"), "the sampler sorts on the kernels where they load"
        assert all(isinstance(p.native, FloatRows) == (switch == "1") for p in steps.projections())
        assert steps.half_cache == (switch == "1"), "the native step keeps keys and values in float16"
        steps.use_half_cache()  # PyTorch's path too: the same cache, so the same numbers
        streams[switch] = (streamed_tokens(backend, PROMPT, SamplingParams(temperature=0.0, max_new_tokens=12)),
                           streamed_tokens(backend, PROMPT, SamplingParams(temperature=0.9, top_k=20, max_new_tokens=12, seed=4)))
    for (native_ids, native_probs), (torch_ids, torch_probs) in zip(streams["1"], streams["0"]):
        assert native_ids == torch_ids
        assert torch.allclose(torch.tensor(native_probs), torch.tensor(torch_probs), atol=1e-4)


def test_int8_streams_through_the_kernel(sharp_model_dir: Path, kernels: NativeKernels) -> None:
    if not kernels.int8:
        pytest.skip("this CPU has no AVX-512 VNNI: int8 products stay with fbgemm")
    float32 = TransformersBackend.load(sharp_model_dir, name="float32", device="cpu")
    int8 = TransformersBackend.load(sharp_model_dir, name="int8", device="cpu", dtype="int8")
    assert all(isinstance(p.native, Int8Rows) and p.packed is None for p in int8._steps.projections())
    assert int8._steps.kernels is kernels, "int8 steps run on the native step"
    ids, _ = streamed_tokens(float32, PROMPT, SamplingParams(temperature=0.0, max_new_tokens=12))
    assert len(streamed_tokens(int8, PROMPT, SamplingParams(temperature=0.8, max_new_tokens=12, seed=3))[0]) == 12
    prompt = torch.tensor(float32._encode(PROMPT))
    with torch.inference_mode():
        for backend in (float32, int8):
            backend._steps.reserve(prompt.numel() + len(ids) + 1)
        pairs = [(float32._steps.prefill(prompt), int8._steps.prefill(prompt))]
        pairs += [(float32._steps.step(torch.tensor([i])), int8._steps.step(torch.tensor([i]))) for i in ids]
    for full, quantized in pairs:
        assert torch.corrcoef(torch.stack([full, quantized]))[0, 1] > 0.99
        assert not torch.equal(full, quantized)
    with torch.inference_mode():  # drafts: a batched int8 step of two rows gives each row the one-row step's logits
        int8._steps.fork(2)
        assert int8._steps.steps_rows_natively(2)
        rows = int8._steps.step_rows(torch.tensor([ids[0], ids[0]]))
        alone = int8._steps.step(torch.tensor([ids[0]]))
    assert torch.allclose(rows, alone.expand(2, -1), atol=1e-5)


def test_float_copies_only_where_a_quarter_of_the_available_memory_holds_them(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24000000 kB\nMemFree:          100000 kB\nMemAvailable:    4000000 kB\n")
    assert native.available_memory(meminfo) == 4_000_000 * 1024
    assert native.room_for_copies(1_000_000 * 1024, meminfo)
    assert not native.room_for_copies(1_000_001 * 1024, meminfo)


def test_without_a_compiler_scribe_still_writes(tmp_path: Path) -> None:
    """No C compiler: the model loads and streams on PyTorch's products, and nothing is built."""
    home = tmp_path / "home"
    done = subprocess.run(
        [sys.executable, "-m", "scribe", "generate", "-m", str(REPO / "models" / "scribe-gutenberg"), "-p", "It was",
         "--max-new-tokens", "8", "--seed", "1"],
        capture_output=True, text=True, cwd=REPO, timeout=300, stdin=subprocess.DEVNULL,
        env={**os.environ, "SCRIBE_HOME": str(home), "CC": str(tmp_path / "no-such-cc"), "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr
    assert "[8 tokens" in done.stderr + done.stdout
    assert not (home / "cache" / "native").exists() or not any((home / "cache" / "native").rglob("*.so"))
    assert (f"note: scribe's native kernels are not built (the C compiler {tmp_path / 'no-such-cc'} cannot be found"
            in done.stderr), "the writer is told why decoding is slower"


LLAMA_SHAPES = {"llama": {}, "qwen2": {}, "heads of 64": dict(hidden=128, heads=2, kv_heads=1),
                "18 heads on one": dict(hidden=72, heads=18, kv_heads=1)}
"""Llama-family shapes for the native step: grouped heads of 16, heads of 64 (the attention's unrolled case), more
query heads on one key/value head than attend together (16)."""


@pytest.mark.parametrize("model", ["gpt2", *LLAMA_SHAPES])
def test_native_steps_after_a_long_prompt_match_pytorchs(model: str, sharp_model_dir: Path, tmp_path: Path,
                                                        kernels: NativeKernels,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole native step (attention over a cache of a few hundred positions, in several chunks, with grouped
    heads, a Qwen2's query/key/value biases, the norms) gives PyTorch's step's logits, position after position; and
    so does the batched step of three drafts after the prompt, each row on its own cache."""
    architecture = "qwen2" if model == "qwen2" else "llama"
    folder = (sharp_model_dir if model == "gpt2"
              else save_tiny_llama(tmp_path / "model", architecture, **LLAMA_SHAPES.get(model, {})))
    monkeypatch.setenv("SCRIBE_BLAS", "torch")
    backends = {}
    for switch in ("1", "0"):
        monkeypatch.setenv("SCRIBE_NATIVE", switch)
        backends[switch] = TransformersBackend.load(folder, name=f"{model}-{switch}", device="cpu")
    assert backends["1"]._steps.kernels is kernels and backends["0"]._steps.kernels is None
    backends["0"]._steps.use_half_cache()  # the native step's float16 cache, so the same numbers
    length = backends["1"]._steps.max_positions
    torch.manual_seed(1)
    ids = torch.randint(0, 250, (length,))
    with torch.inference_mode():
        for backend in backends.values():
            backend._steps.reserve(length)
        native_logits = [backends["1"]._steps.prefill(ids[:-8])]
        torch_logits = [backends["0"]._steps.prefill(ids[:-8])]
        for token in ids[-8:-4]:
            native_logits.append(backends["1"]._steps.step(token[None]))
            torch_logits.append(backends["0"]._steps.step(token[None]))
        for backend in backends.values():
            backend._steps.fork(3)
        assert backends["1"]._steps.steps_rows_natively(3) and not backends["0"]._steps.steps_rows_natively(3)
        for tokens in ids[-4:, None].expand(-1, 3) + torch.tensor([0, 7, 19]):  # the rows' tokens differ
            native_logits.extend(backends["1"]._steps.step_rows(tokens))
            torch_logits.extend(backends["0"]._steps.step_rows(tokens))
    for position, (got, expected) in enumerate(zip(native_logits, torch_logits)):
        # a cached key or value the two paths computed a last bit apart can round to neighbouring float16 values:
        # 2.6e-4 apart at most here (a float32 cache against a float16 one: 9e-3)
        assert torch.allclose(got, expected, atol=1e-3, rtol=1e-4), position


def test_heads_wider_than_the_native_attention_step_in_pytorch(tmp_path: Path, kernels: NativeKernels) -> None:
    """A model whose attention heads are wider than `native.MAX_HEAD_DIM` loads, keeps its products on the native
    kernels and steps through PyTorch's layers."""
    folder = save_tiny_llama(tmp_path / "wide", hidden=2 * native.MAX_HEAD_DIM, heads=1, kv_heads=1)
    backend = TransformersBackend.load(folder, device="cpu")
    assert backend._steps.head_dim > native.MAX_HEAD_DIM
    assert backend._steps.kernels is None and all(isinstance(p.native, FloatRows) for p in backend._steps.projections())
    ids, _ = streamed_tokens(backend, PROMPT, SamplingParams(temperature=0.0, max_new_tokens=6))
    assert len(ids) == 6


def test_the_native_step_takes_only_a_float16_cache(sharp_model_dir: Path, kernels: NativeKernels) -> None:
    steps = TransformersBackend.load(sharp_model_dir, device="cpu")._steps
    steps.reserve(8)
    assert steps.cache.dtype == torch.float16
    with pytest.raises(ValueError, match=r"^the native step's cache holds float16, not torch.float32$"):
        steps._step_native(torch.tensor([1]), 0, steps.cache.float())
