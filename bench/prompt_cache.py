"""Time to the first token of a regenerate, with the prompt cache (only the prompt's last token runs) and without it
(the whole prompt runs), interleaved rounds in one run, against the time of one decode step.

The prompt is the longest that fits the model's context with `--new-tokens` left for the continuation (the bundled
model has 256 positions). `--context N` measures a random GPT-2 of the bundled model's shape with N positions instead
(the bundled tokenizer), for a ~1,000-token context. Target: the cached first token within 2 decode steps' time.

    .venv/bin/python bench/prompt_cache.py [--rounds 5] [--new-tokens 16] [--context 1024]

Writes bench/results/prompt_cache.json (prompt_cache_1024.json with --context).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from scribe.engine.threads import prepare_cpu_threads

prepare_cpu_threads()

import torch  # noqa: E402

from hardware import hardware  # noqa: E402
from scribe.engine.base import StreamEnd, TokenStep  # noqa: E402
from scribe.engine.transformers_backend import TransformersBackend  # noqa: E402
from scribe.sampling.params import SamplingParams  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "scribe-gutenberg"
SENTENCE = ("The rain had stopped by the time she reached the harbour, and the lamps along the quay burned low "
            "in the grey morning, while the fishermen mended their nets and spoke of the storm. ")


def longest_prompt(backend: TransformersBackend, new_tokens: int) -> str:
    """Whole sentences up to the context less `new_tokens`."""
    budget = backend.info.context_length - new_tokens
    text = ""
    while backend.count_tokens(text + SENTENCE) <= budget:
        text += SENTENCE
    words = SENTENCE.split(" ")
    for word in words:  # fill the rest word by word
        if backend.count_tokens(text + word + " ") > budget:
            break
        text += word + " "
    return text


def stream(backend: TransformersBackend, prompt: str, params: SamplingParams) -> tuple[list[TokenStep], StreamEnd]:
    items = list(backend.stream(prompt, params, alternatives=5))
    end = items[-1]
    assert isinstance(end, StreamEnd)
    if end.error:
        raise SystemExit(f"the stream failed: {end.error}")
    return [i for i in items if isinstance(i, TokenStep)], end


def synthetic(folder: Path, positions: int) -> Path:
    """A random GPT-2 with the bundled model's shape and tokenizer and `positions` positions."""
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    config = GPT2Config.from_pretrained(MODEL)
    config.n_positions = positions
    torch.manual_seed(0)
    GPT2LMHeadModel(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(MODEL).save_pretrained(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--context", type=int, default=0, help="a random model of the bundled shape, N positions")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = synthetic(Path(tmp), args.context) if args.context else MODEL
        backend = TransformersBackend.load(folder, device="cpu")
    prompt = longest_prompt(backend, args.new_tokens)
    params = SamplingParams(max_new_tokens=args.new_tokens, temperature=0.8, top_k=40)
    stream(backend, prompt, params.replace(seed=0))  # warm up
    cached_ms: list[float] = []
    cold_ms: list[float] = []
    step_ms: list[float] = []
    prompt_tokens = 0
    for round_ in range(args.rounds):
        for cached in ((True, False) if round_ % 2 == 0 else (False, True)):  # interleaved, alternating order
            stream(backend, prompt, params.replace(seed=100 + round_))  # the continuation being regenerated
            if not cached:
                backend.forget_prompt()
            steps, end = stream(backend, prompt, params.replace(seed=200 + round_))  # the regenerate
            (cached_ms if cached else cold_ms).append(end.first_token_s * 1000)
            step_ms.append(statistics.median(s.elapsed_s for s in steps[1:]) * 1000)
            prompt_tokens = end.prompt_tokens
    cached, cold, step = (statistics.median(v) for v in (cached_ms, cold_ms, step_ms))
    result = {
        "model": f"random GPT-2, bundled shape, {args.context} positions" if args.context else "models/scribe-gutenberg",
        "context": backend.info.context_length, "prompt_tokens": prompt_tokens, "new_tokens": args.new_tokens,
        "rounds": args.rounds, "first_token_ms": {"cached": round(cached, 2), "uncached": round(cold, 2)},
        "decode_step_ms": round(step, 2), "cached_in_decode_steps": round(cached / step, 2),
        "speedup": round(cold / cached, 2), "target_decode_steps": 2.0,
        "all": {"cached_ms": cached_ms, "uncached_ms": cold_ms, "step_ms": step_ms}, "hardware": hardware("cpu"),
    }
    name = f"prompt_cache_{args.context}.json" if args.context else "prompt_cache.json"
    path = REPO / "bench" / "results" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{result['model']}: regenerate after {prompt_tokens} prompt tokens, first token {cached:.1f} ms cached vs "
          f"{cold:.1f} ms uncached ({cold / cached:.1f}x); decode step {step:.1f} ms, so cached = "
          f"{cached / step:.2f} steps (target <= 2); load average {result['hardware']['load_average_1min']}")


if __name__ == "__main__":
    main()
