"""Beam search and contrastive search through the transformers backend's stream, and through `scribe generate`."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import torch

from scribe.cli import build_parser, main
from scribe.commands.generate import sampling_from_args
from scribe.engine.base import StreamEnd, TokenStep
from scribe.engine.transformers_backend import TransformersBackend
from scribe.engine.transformers_search import TransformersModelStep
from scribe.sampling.params import InvalidSetting, SamplingParams
from scribe.sampling.search import search

PROMPT = "The old lighthouse keeper looked at the sea and"


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These models are tiny: one thread is many times faster than two on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run(backend: TransformersBackend, prompt: str, params: SamplingParams, **kwargs) -> tuple[list, StreamEnd]:
    events = list(backend.stream(prompt, params, **kwargs))
    assert all(isinstance(e, TokenStep) for e in events[:-1]) and isinstance(events[-1], StreamEnd)
    return events[:-1], events[-1]


def test_beam_search_streams_the_ids_of_transformers_generate(sharp_backend: TransformersBackend, sharp_hf_model):
    params = SamplingParams(num_beams=3, max_new_tokens=16, length_penalty=0.5)
    steps, end = run(sharp_backend, PROMPT, params, alternatives=3)
    prompt_ids = torch.tensor([sharp_backend._encode(PROMPT)])
    eos = sharp_hf_model.config.eos_token_id
    with torch.inference_mode():
        expected = sharp_hf_model.generate(
            prompt_ids, do_sample=False, num_beams=3, length_penalty=0.5, max_new_tokens=16, pad_token_id=eos
        )[0, prompt_ids.shape[1] :].tolist()
    if eos in expected:
        expected = expected[: expected.index(eos)]
    assert [s.token_id for s in steps] == expected
    assert [s.index for s in steps] == list(range(len(steps)))
    assert (end.reason, end.tokens, end.error) == ("max_tokens", 16, None)
    assert end.text == "".join(s.text for s in steps)
    assert all(len(s.alternatives) == 3 and s.final_prob == 1.0 for s in steps)


def test_contrastive_search_streams_what_the_search_chooses(sharp_backend: TransformersBackend, sharp_hf_model):
    params = SamplingParams(penalty_alpha=0.6, top_k=4, max_new_tokens=12)
    steps, end = run(sharp_backend, PROMPT, params)
    prompt_ids = torch.tensor(sharp_backend._encode(PROMPT))
    with torch.inference_mode():
        found = search(TransformersModelStep(sharp_hf_model), prompt_ids, params, max_new_tokens=12)
        chosen = [r.token_id for r in found]
    assert [s.token_id for s in steps] == chosen and end.tokens == 12
    greedy, _ = run(sharp_backend, PROMPT, SamplingParams(temperature=0.0, max_new_tokens=12))
    assert [s.token_id for s in greedy] != chosen


def test_stop_strings_cancel_and_a_full_context_end_a_search(sharp_backend: TransformersBackend):
    params = SamplingParams(num_beams=2, max_new_tokens=20)
    steps, full = run(sharp_backend, PROMPT, params)
    stop = steps[6].text.strip() or steps[6].text
    cut_steps, cut = run(sharp_backend, PROMPT, params.replace(stop=(stop,)))
    assert cut.reason == "stop_string" and cut.text == full.text[: full.text.index(stop)]

    cancel = threading.Event()
    seen = []
    for event in sharp_backend.stream(PROMPT, params.replace(penalty_alpha=0.6, num_beams=1), cancel=cancel):
        if isinstance(event, TokenStep):
            seen.append(event)
            if len(seen) == 3:
                cancel.set()
        else:
            end = event
    assert (end.reason, end.tokens, len(seen)) == ("cancelled", 3, 3)

    steps, end = run(sharp_backend, "word " * 200, SamplingParams(num_beams=2, max_new_tokens=100))
    assert (end.prompt_tokens, end.reason, end.tokens) == (32, "context_full", 32)


def test_scribe_generate_runs_beam_search_from_its_flags(tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]):
    args = ["generate", "--model", str(tiny_model_dir), "--prompt", "Once upon a time", "--max-new-tokens", "6",
            "--num-beams", "3", "--early-stopping", "never", "--json", "--alternatives", "2"]  # fmt: skip
    assert main(args) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["type"] for r in records] == ["token"] * 6 + ["end"]
    assert all(r["alternatives"][0]["removed_by"] in (None, "beam_search") for r in records[:-1])


def test_a_bad_search_flag_is_refused_naming_the_setting():
    args = build_parser().parse_args(["generate", "--prompt", "x", "--early-stopping", "soon"])
    with pytest.raises(InvalidSetting, match="^early_stopping: 'soon' is not one of heuristic, true, never"):
        sampling_from_args(args, SamplingParams())
    args = build_parser().parse_args(["generate", "--prompt", "x", "--num-beams", "0"])
    with pytest.raises(InvalidSetting, match="^num_beams: .*out of range"):
        sampling_from_args(args, SamplingParams())
