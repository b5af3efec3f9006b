"""Several drafts in one batched decode (`TransformersBackend.stream_many`): each row gives the tokens and
probabilities of a single stream with its seed, every step after the prompt is one batched step, and backends or
settings that cannot batch stream the drafts one after another."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiny_models import TEXT, save_tiny_llama  # noqa: E402

from scribe.engine.base import Capability, StreamEnd, TokenStep  # noqa: E402
from scribe.engine.transformers_backend import TransformersBackend  # noqa: E402
from scribe.sampling.params import SamplingParams  # noqa: E402

PROMPT = TEXT[:200]
PARAMS = SamplingParams(max_new_tokens=10, temperature=1.0, top_k=20)


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def folder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, random_gpt2) -> Path:
    folder = tmp_path_factory.mktemp(request.param)
    if request.param == "gpt2":
        return random_gpt2(folder, n_embd=32, n_layer=2, n_head=2, n_positions=256, initializer_range=0.3)
    return save_tiny_llama(folder, "llama", context=256)


@pytest.fixture(scope="module")
def backend(folder: Path) -> TransformersBackend:
    return TransformersBackend.load(folder, device="cpu")


def by_row(pairs) -> dict[int, list[TokenStep | StreamEnd]]:
    rows: dict[int, list[TokenStep | StreamEnd]] = {}
    for row, item in pairs:
        assert not rows.get(row) or not isinstance(rows[row][-1], StreamEnd), "nothing after a row's end"
        rows.setdefault(row, []).append(item)
    return rows


def single(backend: TransformersBackend, params: SamplingParams) -> list[TokenStep | StreamEnd]:
    backend.forget_prompt()
    return list(backend.stream(PROMPT, params, alternatives=3))


def test_each_row_is_the_single_stream_with_its_seed(backend: TransformersBackend, monkeypatch) -> None:
    assert backend.supports(Capability.BATCH)
    settings = [PARAMS.replace(seed=seed) for seed in (11, 12, 13, 14)]
    decoder = backend._steps
    calls = {"step": 0, "rows": 0}
    step, step_rows = decoder.step, decoder.step_rows
    monkeypatch.setattr(decoder, "step", lambda t: (calls.__setitem__("step", calls["step"] + 1), step(t))[1])
    monkeypatch.setattr(decoder, "step_rows",
                        lambda t: (calls.__setitem__("rows", calls["rows"] + 1), step_rows(t))[1])
    backend.forget_prompt()
    rows = by_row(backend.stream_many(PROMPT, settings, alternatives=3))
    monkeypatch.undo()
    assert sorted(rows) == [0, 1, 2, 3]
    assert decoder.rows_cache is None, "the rows' cache is freed when the batch is over"
    assert calls == {"step": 0, "rows": PARAMS.max_new_tokens - 1}, "one batched step per token after the prompt"
    texts = set()
    for row, params in enumerate(settings):
        alone = single(backend, params)
        batched = rows[row]
        assert isinstance(batched[-1], StreamEnd) and batched[-1].error is None
        assert batched[-1].text == alone[-1].text and batched[-1].tokens == alone[-1].tokens
        texts.add(batched[-1].text)
        for x, y in zip(batched[:-1], alone[:-1]):
            assert x.token_id == y.token_id
            assert x.raw_prob == pytest.approx(y.raw_prob, abs=1e-5)
            assert x.final_prob == pytest.approx(y.final_prob, abs=1e-5)
            assert [a.token_id for a in x.alternatives] == [a.token_id for a in y.alternatives]
    assert len(texts) > 1, "different seeds, different drafts"


def test_each_rows_tokens_take_the_time_of_the_steps_that_made_them(backend: TransformersBackend) -> None:
    settings = [PARAMS.replace(seed=seed, max_new_tokens=24) for seed in (41, 42, 43)]
    backend.forget_prompt()
    began = time.perf_counter()
    rows = by_row(backend.stream_many(PROMPT, settings))
    wall = time.perf_counter() - began
    longest = max(rows.values(), key=len)[:-1]
    for items in rows.values():
        steps = items[:-1]
        assert [s.elapsed_s for s in steps] == [s.elapsed_s for s in longest[: len(steps)]], "token n: step n's time"
    busy = sum(step.elapsed_s for step in longest)
    assert 0.5 * wall < busy <= wall, (busy, wall)  # a draft's speed is what it got, not hundreds of times more


def test_a_stop_string_ends_its_row_only(backend: TransformersBackend) -> None:
    first = single(backend, PARAMS.replace(seed=21))
    stop = first[-1].text[2:4]
    assert stop.strip()
    settings = [PARAMS.replace(seed=21, stop=(stop,)), PARAMS.replace(seed=22, stop=(stop,))]
    rows = by_row(backend.stream_many(PROMPT, settings))
    assert rows[0][-1].reason == "stop_string" and rows[0][-1].text == first[-1].text[: first[-1].text.index(stop)]
    assert rows[1][-1].reason in ("stop_string", "max_tokens", "eos")


def test_cancel_stops_every_row(backend: TransformersBackend) -> None:
    cancel = threading.Event()
    rows: dict[int, list] = {}
    for row, item in backend.stream_many(PROMPT, [PARAMS.replace(seed=s) for s in (1, 2, 3)], cancel=cancel):
        rows.setdefault(row, []).append(item)
        cancel.set()
    assert all(items[-1].reason == "cancelled" for items in rows.values()) and len(rows) == 3


def test_without_a_batching_decoder_drafts_run_one_after_another(folder: Path) -> None:
    plain = TransformersBackend.load(folder, device="cpu")
    plain.__init__(plain._model, plain._tokenizer, plain.info, decoder="transformers")
    assert not plain.supports(Capability.BATCH)
    settings = [PARAMS.replace(seed=s) for s in (31, 32)]
    pairs = list(plain.stream_many(PROMPT, settings))
    order = [row for row, _ in pairs]
    assert order == sorted(order), "row 0 to its end, then row 1"
    rows = by_row(pairs)
    for row, params in enumerate(settings):
        assert rows[row][-1].text == list(plain.stream(PROMPT, params))[-1].text


def test_banned_phrases_fall_back_to_one_after_another(backend: TransformersBackend) -> None:
    settings = [PARAMS.replace(seed=1, banned_phrases=("the",)), PARAMS.replace(seed=2, banned_phrases=("the",))]
    pairs = list(backend.stream_many(PROMPT, settings))
    assert [row for row, _ in pairs] == sorted(row for row, _ in pairs)
    assert all("the" not in item.text.lower() for _, item in pairs if isinstance(item, StreamEnd))
