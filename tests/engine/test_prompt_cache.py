"""The prompt cache of the transformers backend (scribe's GPT-2 and Llama decoders): a regenerate, an extend and a
prompt edited in the middle give the tokens and probabilities of a cold run (same seed), and only the positions after
the common prefix are run (counted by instrumenting the decoder)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiny_models import TEXT, save_tiny_llama  # noqa: E402

from scribe.engine.base import StreamEnd, TokenStep  # noqa: E402
from scribe.engine.transformers_backend import TransformersBackend  # noqa: E402
from scribe.sampling.params import SamplingParams  # noqa: E402

PROMPT = TEXT[:250]  # with what is generated, well inside the context (a window that slides shares no prefix)
PARAMS = SamplingParams(max_new_tokens=12, temperature=1.0)


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, random_gpt2) -> TransformersBackend:
    folder = tmp_path_factory.mktemp(request.param)
    if request.param == "gpt2":
        random_gpt2(folder, n_embd=32, n_layer=2, n_head=2, n_positions=256, initializer_range=0.3)
    else:
        save_tiny_llama(folder, "llama", context=256)
    loaded = TransformersBackend.load(folder, device="cpu")
    assert type(loaded._steps).__name__ == {"gpt2": "GPT2Decoder", "llama": "LlamaDecoder"}[request.param]
    return loaded


class Counter:
    """Counts the positions the decoder runs: tokens passed to `extend` (the prompt) and to `step`."""

    def __init__(self, backend: TransformersBackend, monkeypatch: pytest.MonkeyPatch) -> None:
        decoder = backend._steps
        self.prompt: list[int] = []
        self.steps = 0
        extend, step = decoder.extend, decoder.step

        def counted_extend(ids):
            self.prompt.append(ids.numel())
            return extend(ids)

        def counted_step(token):
            self.steps += 1
            return step(token)

        monkeypatch.setattr(decoder, "extend", counted_extend)
        monkeypatch.setattr(decoder, "step", counted_step)


def run(backend: TransformersBackend, prompt: str, params: SamplingParams, *, cached: bool) -> tuple[list[TokenStep], StreamEnd]:
    if not cached:
        backend.forget_prompt()
    items = list(backend.stream(prompt, params, alternatives=3))
    end = items[-1]
    assert isinstance(end, StreamEnd) and end.error is None, end
    return [i for i in items if isinstance(i, TokenStep)], end


def assert_same(a: list[TokenStep], b: list[TokenStep]) -> None:
    assert [s.token_id for s in a] == [s.token_id for s in b]
    for x, y in zip(a, b):
        assert x.raw_prob == pytest.approx(y.raw_prob, abs=1e-5)
        assert x.final_prob == pytest.approx(y.final_prob, abs=1e-5)
        assert [alt.token_id for alt in x.alternatives] == [alt.token_id for alt in y.alternatives]


def test_regenerate_reuses_the_whole_prompt(backend: TransformersBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    first, end = run(backend, PROMPT, PARAMS.replace(seed=7), cached=False)
    counter = Counter(backend, monkeypatch)
    again, again_end = run(backend, PROMPT, PARAMS.replace(seed=8), cached=True)
    assert counter.prompt == [1], "only the prompt's last token runs (its logits pick the first new token)"
    assert counter.steps == again_end.tokens - 1
    monkeypatch.undo()
    cold, _ = run(backend, PROMPT, PARAMS.replace(seed=8), cached=False)
    assert_same(again, cold)
    assert end.prompt_tokens == again_end.prompt_tokens > 50


def test_extend_runs_only_the_new_tokens(backend: TransformersBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    steps, end = run(backend, PROMPT, PARAMS.replace(seed=3), cached=False)
    extended = PROMPT + end.text
    held = backend.encode_ids(PROMPT) + [s.token_id for s in steps[:-1]]  # the last generated token was never run
    new = backend.encode_ids(extended)
    common = next((i for i, (a, b) in enumerate(zip(held, new)) if a != b), min(len(held), len(new)))
    counter = Counter(backend, monkeypatch)
    warm, warm_end = run(backend, extended, PARAMS.replace(seed=4), cached=True)
    assert backend._prompt_cache.reused == common >= end.prompt_tokens - 1, "the prompt at least (retokenising "\
        "random text may merge generated tokens differently)"
    assert counter.prompt == [warm_end.prompt_tokens - common]
    monkeypatch.undo()
    cold, _ = run(backend, extended, PARAMS.replace(seed=4), cached=False)
    assert_same(warm, cold)


def test_typing_at_the_end_runs_only_what_was_typed(backend: TransformersBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    run(backend, PROMPT, PARAMS.replace(seed=5), cached=False)
    counter = Counter(backend, monkeypatch)
    typed = PROMPT + " The lamps struggled against the darkness of the night"
    _, end = run(backend, typed, PARAMS.replace(seed=5), cached=True)
    common = len(backend.encode_ids(PROMPT)) - 1  # at most the last token of the old prompt merges differently
    assert 5 <= counter.prompt[0] <= end.prompt_tokens - common


def test_an_edit_in_the_middle_cuts_the_cache_back(backend: TransformersBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    run(backend, PROMPT, PARAMS.replace(seed=9), cached=False)
    middle = len(PROMPT) // 2
    edited = PROMPT[:middle] + " suddenly a violent storm " + PROMPT[middle:]
    prefix_ids = backend.encode_ids(PROMPT[:middle])
    counter = Counter(backend, monkeypatch)
    warm, end = run(backend, edited, PARAMS.replace(seed=10), cached=True)
    reused = backend._prompt_cache.reused
    assert len(prefix_ids) - 2 <= reused <= len(prefix_ids) + 1
    assert counter.prompt == [end.prompt_tokens - reused]
    monkeypatch.undo()
    cold, _ = run(backend, edited, PARAMS.replace(seed=10), cached=False)
    assert_same(warm, cold)
    assert backend._prompt_cache.reused == 0
