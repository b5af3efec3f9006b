"""Cost of the samplers beyond the foundation: the sampler's time per token with DRY, XTC and mirostat v2 on and off,
and beam search / contrastive search through scribe's transformers backend against transformers' `generate()`.

Sampler: one `Sampler.step` on GPT-2-sized logits (50,257 tokens, seeded normal * 3) with a 1,000-token context that
repeats itself (DRY has matches to follow), median of interleaved rounds of 200 steps, one torch thread.

Searches: a GPT-2-124M-shaped model (random weights, seeded) on the CPU, the same prompt, `--new-tokens` new tokens:
scribe's `stream()` (beam search releases tokens as the beams agree) against `generate(num_beams=4, do_sample=False)`
in the same process, interleaved, after one warm-up each; the token ids are checked equal. Contrastive search has no
offline reference in transformers 5 (it moved to a Hub repository), so only scribe's rate is recorded.

    .venv/bin/python bench/search_speed.py [--new-tokens 32] [--rounds 3]

Writes bench/results/search_speed.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from scribe.engine.threads import prepare_cpu_threads

prepare_cpu_threads()

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from bench_data import gpt2_sized_tokenizer
from hardware import hardware
from scribe.engine.base import StreamEnd
from scribe.engine.transformers_backend import TransformersBackend
from scribe.sampling.params import SamplingParams
from scribe.sampling.sampler import Sampler

REPO = Path(__file__).resolve().parents[1]
RESULT = REPO / "bench" / "results" / "search_speed.json"
PROMPT = "The lighthouse keeper climbed the stairs one last time, and when he reached the lamp room he saw"
SAMPLER_SETTINGS = {
    "default (temperature 0.8)": {},
    "top_k 50 + top_p 0.9": {"top_k": 50, "top_p": 0.9},
    "dry 0.8": {"dry_multiplier": 0.8},
    "xtc 0.5 / 0.1": {"xtc_probability": 0.5, "xtc_threshold": 0.1},
    "mirostat tau 5": {"mirostat_tau": 5.0, "temperature": 1.0},
}


def sampler_cost(rounds: int) -> dict[str, float]:
    """Microseconds per Sampler.step for each setting, median over interleaved rounds."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    logits = torch.randn(50257, generator=torch.Generator().manual_seed(0)) * 3
    context = torch.arange(100, 350).repeat(4)  # 1,000 tokens that repeat: DRY follows real matches
    times: dict[str, list[float]] = {name: [] for name in SAMPLER_SETTINGS}
    for _ in range(rounds):
        for name, settings in SAMPLER_SETTINGS.items():
            sampler = Sampler(SamplingParams(seed=1, **settings))
            for _ in range(20):
                sampler.step(logits, context, 500, decode=str)
            start = time.perf_counter()
            for _ in range(200):
                sampler.step(logits, context, 500, decode=str)
            times[name].append((time.perf_counter() - start) / 200 * 1e6)
    torch.set_num_threads(threads)
    return {name: statistics.median(values) for name, values in times.items()}


def stream_rate(backend: TransformersBackend, params: SamplingParams) -> tuple[float, list[int]]:
    start = time.perf_counter()
    ids = [e.token_id for e in backend.stream(PROMPT, params) if not isinstance(e, StreamEnd)]
    return len(ids) / (time.perf_counter() - start), ids


def search_speed(new_tokens: int, rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        torch.manual_seed(0)
        GPT2LMHeadModel(GPT2Config()).save_pretrained(folder)
        gpt2_sized_tokenizer().save_pretrained(folder)
        backend = TransformersBackend.load(folder, device="cpu", dtype="float32")
    model = backend._model
    prompt_ids = torch.tensor([backend._encode(PROMPT)])
    beams = SamplingParams(num_beams=4, max_new_tokens=new_tokens)
    contrastive = SamplingParams(penalty_alpha=0.6, top_k=4, max_new_tokens=new_tokens)

    def generate() -> tuple[float, list[int]]:
        start = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(prompt_ids, num_beams=4, do_sample=False, max_new_tokens=new_tokens,
                                 min_new_tokens=new_tokens, pad_token_id=50256)  # fmt: skip
        return new_tokens / (time.perf_counter() - start), out[0, prompt_ids.shape[1] :].tolist()

    stream_rate(backend, beams), generate(), stream_rate(backend, contrastive)  # warm-up
    ours, theirs, contrast = [], [], []
    for _ in range(rounds):
        rate, ids = stream_rate(backend, beams)
        ours.append(rate)
        rate, expected = generate()
        theirs.append(rate)
        assert ids == expected[: len(ids)], "beam search differs from generate()"
        contrast.append(stream_rate(backend, contrastive)[0])
    return {
        "beam4_scribe_tokens_per_s": statistics.median(ours),
        "beam4_generate_tokens_per_s": statistics.median(theirs),
        "contrastive_scribe_tokens_per_s": statistics.median(contrast),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    result = {
        "hardware": hardware("cpu"),
        "sampler_us_per_token": sampler_cost(args.rounds),
        "search": search_speed(args.new_tokens, args.rounds),
        "new_tokens": args.new_tokens,
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
