"""The quick-start GPT-2 loader (scribe/engine/gpt2_light.py) against the full transformers loader, on the bundled
model: the same prompt ids, the same tokens and probabilities for a fixed seed, and no transformers import."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scribe.engine.base import Capability, StreamEnd, TokenStep
from scribe.engine.gpt2_light import LightGPT2Backend, can_load, load_light
from scribe.sampling.params import SamplingParams

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "models" / "scribe-gutenberg"
PROMPT = "The old house stood at the end of the lane, and — café naïve — "


@pytest.fixture(scope="module")
def full():
    from scribe.engine.transformers_backend import TransformersBackend

    return TransformersBackend.load(BUNDLED, name="scribe-gutenberg", device="cpu")


def _run(backend, params: SamplingParams) -> tuple[list[TokenStep], StreamEnd]:
    items = list(backend.stream(PROMPT, params, alternatives=5))
    end = items[-1]
    assert isinstance(end, StreamEnd) and end.error is None
    return [i for i in items if isinstance(i, TokenStep)], end


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_same_tokens_and_probabilities_as_the_transformers_loader(full, dtype: str) -> None:
    from scribe.engine.transformers_backend import TransformersBackend

    reference = full if dtype == "float32" else TransformersBackend.load(BUNDLED, device="cpu", dtype="int8")
    light = load_light(BUNDLED, name="scribe-gutenberg", dtype=dtype)
    assert light.encode_ids(PROMPT) == reference.encode_ids(PROMPT)
    assert light.count_tokens(PROMPT) == reference.count_tokens(PROMPT)
    assert (light.info.context_length, light.info.vocab_size, light.info.parameters) == (
        reference.info.context_length, reference.info.vocab_size, reference.info.parameters)
    params = SamplingParams(seed=1234, max_new_tokens=40, temperature=0.9, top_k=50, repetition_penalty=1.1)
    got, got_end = _run(light, params)
    want, want_end = _run(reference, params)
    assert [s.token_id for s in got] == [s.token_id for s in want]
    assert [s.text for s in got] == [s.text for s in want] and got_end.text == want_end.text
    for a, b in zip(got, want, strict=True):
        assert math.isclose(a.raw_prob, b.raw_prob, rel_tol=1e-5, abs_tol=1e-7)
        assert math.isclose(a.final_prob, b.final_prob, rel_tol=1e-5, abs_tol=1e-7)
        assert [x.token_id for x in a.alternatives] == [x.token_id for x in b.alternatives]
    assert got_end.reason == want_end.reason and got_end.prompt_tokens == want_end.prompt_tokens


def test_streams_only_and_says_why(full) -> None:
    light = load_light(BUNDLED)
    assert light.supports(Capability.LOGITS)
    assert not any(light.supports(c) for c in (Capability.SCORE, Capability.ANALYSE, Capability.SEARCH, Capability.CHAT))
    assert "streaming only" in light.unavailable(Capability.SCORE)
    assert full.supports(Capability.SCORE)  # the full loader keeps everything


def test_refuses_what_it_cannot_read_as_the_full_loader_would(tmp_path: Path) -> None:
    assert can_load(BUNDLED, device="cpu", dtype="auto", trust_remote_code=False)
    assert not can_load(BUNDLED, device="cpu", dtype="bfloat16", trust_remote_code=False)
    assert not can_load(BUNDLED, device="cuda", dtype="auto", trust_remote_code=False)
    copy = tmp_path / "copy"
    shutil.copytree(BUNDLED, copy)
    (copy / "tokenizer.json").unlink()  # a vocab.json/merges.txt tokenizer: transformers reads it
    assert not can_load(copy, device="cpu", dtype="auto", trust_remote_code=False)
    shutil.copy(BUNDLED / "tokenizer.json", copy / "tokenizer.json")
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "model_type": "llama"}))
    assert not can_load(copy, device="cpu", dtype="auto", trust_remote_code=False)


def _fresh_python(code: str) -> list[str]:
    """The heavy modules a fresh interpreter has imported after running `code` (this checkout's scribe first)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    script = code + "\nimport sys, json\nprint(json.dumps(sorted(m for m in ('torch', 'transformers', 'tensorflow', "
    script += "'keras', 'httpx', 'huggingface_hub') if m in sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_streaming_load_imports_neither_transformers_nor_httpx() -> None:
    code = ("from scribe.engine.registry import load_model\n"
            f"b = load_model({str(BUNDLED)!r}, device='cpu', light=True)\n"
            "assert type(b).__name__ == 'LightGPT2Backend', type(b)\n"
            "from scribe.sampling.params import SamplingParams\n"
            "assert list(b.stream('Once', SamplingParams(seed=1, max_new_tokens=3)))[-1].tokens == 3")
    assert _fresh_python(code) == ["torch"]


def test_resolving_a_folder_or_bundled_name_imports_no_httpx_or_transformers() -> None:
    code = ("from scribe.engine.registry import resolve_model\n"
            f"assert resolve_model({str(BUNDLED)!r}).kind == 'transformers'\n"
            "assert resolve_model('scribe-gutenberg').kind == 'transformers'")
    imported = _fresh_python(code)
    assert "httpx" not in imported and "transformers" not in imported


def test_full_load_stays_the_default() -> None:
    from scribe.engine.registry import load_model

    backend = load_model(str(BUNDLED), device="cpu")
    assert not isinstance(backend, LightGPT2Backend) and backend.supports(Capability.SCORE)


def test_a_missing_tensor_is_one_line_naming_the_file(tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    from scribe.engine.base import ModelLoadError

    copy = tmp_path / "broken"
    shutil.copytree(BUNDLED, copy)
    tensors = load_file(copy / "model.safetensors")
    del tensors["transformer.h.1.ln_2.bias"]
    save_file(tensors, copy / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ModelLoadError) as caught:
        load_light(copy)
    message = str(caught.value)
    assert "\n" not in message and str(copy / "model.safetensors") in message and "h.1.ln_2.bias" in message
