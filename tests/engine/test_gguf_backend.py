"""The GGUF backend on a tiny random Qwen2 written as a GGUF file at test time: the same logits as transformers,
scribe's sampler on llama.cpp's logits, the prompt cache reused, chat through the file's template, the CLI and the
studio. Skipped when llama-cpp-python (`pip install 'scribe[gguf]'`) or gguf is not installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("llama_cpp")
pytest.importorskip("gguf")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiny_models import CHAT_TEMPLATE, save_tiny_llama, write_gguf  # noqa: E402

from scribe.config import Settings  # noqa: E402
from scribe.engine import registry  # noqa: E402
from scribe.engine.base import Capability, StreamEnd, TokenStep  # noqa: E402
from scribe.engine.gguf_backend import GGUFBackend  # noqa: E402
from scribe.sampling.params import SamplingParams  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PROMPT = "It was a dark and stormy"


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_llama(tmp_path_factory.mktemp("qwen2"), "qwen2", chat_template=CHAT_TEMPLATE)


@pytest.fixture(scope="module")
def gguf_file(hf_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_gguf(hf_folder, tmp_path_factory.mktemp("gguf") / "tiny-qwen2.gguf")


@pytest.fixture(scope="module")
def backend(gguf_file: Path):
    loaded = GGUFBackend.load(gguf_file, device="cpu")
    yield loaded
    loaded.close()


@pytest.fixture(scope="module")
def reference(hf_folder: Path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(hf_folder).eval()


def test_a_gguf_file_and_its_folder_resolve_to_the_gguf_backend(gguf_file: Path) -> None:
    assert registry.resolve_model(str(gguf_file)).kind == "gguf"
    assert registry.resolve_model(str(gguf_file.parent)).kind == "gguf"
    assert GGUFBackend.detect(gguf_file) and not GGUFBackend.detect(gguf_file.with_suffix(".bin"))


def test_metadata_gives_the_context_tokenizer_and_template(backend: GGUFBackend, hf_folder: Path) -> None:
    from transformers import AutoTokenizer

    assert backend.info.backend == "gguf" and backend.info.context_length == 256
    assert backend.info.extra["architecture"] == "qwen2" and backend.info.dtype == "F32"
    tokenizer = AutoTokenizer.from_pretrained(hf_folder)
    assert backend.count_tokens(PROMPT) == len(tokenizer(PROMPT)["input_ids"])
    assert backend.supports(Capability.CHAT) and backend.supports(Capability.LOGITS)
    assert not backend.supports(Capability.ANALYSE)


def test_llama_cpp_logits_match_transformers(backend: GGUFBackend, reference) -> None:
    ids = backend._encode(PROMPT)
    with torch.no_grad():
        expected = reference(torch.tensor([ids])).logits[0, -1]
    logits = backend.steps.prefill(torch.tensor(ids))
    assert torch.allclose(logits, expected, atol=1e-2), "llama.cpp keeps its key/value cache in float16"
    assert int(logits.argmax()) == int(expected.argmax())


def test_greedy_stream_matches_transformers_with_probabilities(backend: GGUFBackend, reference) -> None:
    items = list(backend.stream(PROMPT, SamplingParams(temperature=0.0, max_new_tokens=10), alternatives=5))
    end = items[-1]
    steps = [i for i in items if isinstance(i, TokenStep)]
    assert isinstance(end, StreamEnd) and end.error is None and end.text == "".join(s.text for s in steps)
    ids = backend._encode(PROMPT)
    with torch.no_grad():
        expected = reference.generate(torch.tensor([ids]), max_new_tokens=10, do_sample=False, eos_token_id=None,
                                      pad_token_id=0)[0, len(ids):].tolist()
    assert [s.token_id for s in steps] == expected[: len(steps)] and len(steps) >= 1
    assert all(0 < s.raw_prob <= 1 and len(s.alternatives) == 5 for s in steps)
    assert all(s.alternatives[0].removed_by is None for s in steps)


def test_the_same_seed_gives_the_same_text_and_x_ray(backend: GGUFBackend) -> None:
    params = SamplingParams(temperature=1.2, top_k=20, min_p=0.05, seed=11, max_new_tokens=12)
    first = list(backend.stream(PROMPT, params))
    again = list(backend.stream(PROMPT, params))
    assert first[-1].text == again[-1].text
    removed = {a.removed_by for s in first if isinstance(s, TokenStep) for a in s.alternatives}
    assert removed <= {None, "top_k", "min_p"}


def test_regenerate_and_continue_evaluate_only_the_new_suffix(backend: GGUFBackend) -> None:
    llama = backend._llama
    evaluated: list[int] = []
    original = llama.eval
    llama.eval = lambda tokens: (evaluated.append(len(tokens)), original(tokens))[1]
    params = SamplingParams(temperature=0.0, max_new_tokens=4)
    try:
        first = list(backend.stream(PROMPT, params))[-1]
        evaluated.clear()
        again = list(backend.stream(PROMPT, params))[-1]
        assert again.text == first.text and evaluated[0] == 1, "regenerate: only the last prompt token runs again"
        evaluated.clear()
        list(backend.stream(PROMPT + " The rain", params))
    finally:
        del llama.eval
    new = backend.count_tokens(PROMPT + " The rain") - backend.count_tokens(PROMPT)
    assert evaluated[0] == new, "continue: only the added text runs"


def test_chat_uses_the_template_from_the_metadata(backend: GGUFBackend) -> None:
    messages = [{"role": "user", "content": "Describe the rain."}]
    end = list(backend.chat(messages, SamplingParams(temperature=0.0, max_new_tokens=4)))[-1]
    assert isinstance(end, StreamEnd) and end.error is None
    rendered = "<|user|>Describe the rain.<|end|><|assistant|>"
    assert end.prompt_tokens == len(backend._llama.tokenize(rendered.encode(), add_bos=False, special=True))


def test_the_cli_streams_a_gguf_file(gguf_file: Path, tmp_path: Path) -> None:
    env = {**os.environ, "SCRIBE_HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "scribe", "generate", "-m", str(gguf_file), "-p", PROMPT, "--temperature", "0",
         "--max-new-tokens", "5", "--json"], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) >= 2 and "alternatives" in lines[0] and lines[-1].get("reason") in ("max_tokens", "eos")


async def test_the_studio_streams_a_gguf_file_with_probabilities(gguf_file: Path) -> None:
    from scribe.ui.app import ScribeApp

    settings = Settings(model=str(gguf_file), device="cpu", autosave_seconds=3600.0,
                        sampling=SamplingParams(max_new_tokens=6, seed=3))
    app = ScribeApp(settings=settings)
    async with app.run_test(size=(110, 32)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.model_state == "ready", app.status_bar.status
        await pilot.press(*"It was", "ctrl+j")
        while app.generating:
            await pilot.pause(0.05)
        await app.workers.wait_for_complete()
        await pilot.pause()
        steps = app.stream_view.steps
        assert steps and app.stream_view.end.error is None
        await pilot.press("f3")
        await pilot.pause()
        inspector = app.stream_view.query_one("#stream-alternatives").content.plain
        assert "before filters" in inspector and "%" in inspector and "kept" in inspector
