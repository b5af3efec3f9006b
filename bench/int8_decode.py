"""int8 weights against float32: decode speed on a GPT-2-124M shape, and the perplexity change on a model with real
weights.

Speed: one GPT-2-124M-shaped model (random weights, seed 0, a GPT-2-sized tokenizer from `bench_data.py`) loaded
twice through scribe's registry, `dtype="float32"` and `dtype="int8"`; both stream the same prompt (temperature 0.8,
top-k 50, top-5 alternatives) in a worker thread, in interleaved rounds after a warm-up. The rate is new tokens / wall time.

Perplexity: the bundled model (`models/scribe-gutenberg`, trained by scribe; or --model) loaded as float32 and as
int8 scores the same held-out text, Tiny Shakespeare (never in its training data), in non-overlapping windows of its
context, through the same decode code (`GPT2Decoder.score`).

    .venv/bin/python bench/int8_decode.py [--new-tokens 128] [--rounds 3] [--model scribe-gutenberg] [--eval-tokens 16384]

Writes bench/results/int8_decode.json.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F

from decode_speed import build_model, in_worker_thread, run_scribe
from bench_data import SHAKESPEARE
from hardware import hardware
from scribe.engine.registry import load_model

REPO = Path(__file__).resolve().parents[1]
HELD_OUT = SHAKESPEARE
RESULT = REPO / "bench" / "results" / "int8_decode.json"


def perplexity(backend, ids: list[int], window: int) -> float:
    """exp(mean negative log-likelihood) of `ids`, scored in non-overlapping windows of `window` tokens."""
    decoder = backend._steps
    total, count = 0.0, 0
    with torch.inference_mode():
        decoder.reserve(window)
        for start in range(0, len(ids) - 1, window):
            chunk = torch.tensor(ids[start : start + window + 1])
            if chunk.numel() < 2:
                break
            logits = decoder.score(chunk[:-1]).float()
            total += F.cross_entropy(logits, chunk[1:], reduction="sum").item()
            count += chunk.numel() - 1
    return math.exp(total / count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="scribe-gutenberg", help="model with real weights for the perplexity")
    parser.add_argument("--eval-tokens", type=int, default=16384)
    args = parser.parse_args()

    def held_out() -> tuple[list[int], int, dict[str, float]]:
        real = {dtype: load_model(args.model, device="cpu", dtype=dtype) for dtype in ("float32", "int8")}
        ids = real["float32"]._encode(HELD_OUT.read_text(encoding="utf-8"))[: args.eval_tokens + 1]
        window = min(real["float32"].info.context_length, 1024)
        return ids, window, {dtype: perplexity(backend, ids, window) for dtype, backend in real.items()}

    ids, window, ppl = in_worker_thread(held_out)  # its thread ends before the streams run (see `in_worker_thread`)
    change = ppl["int8"] / ppl["float32"] - 1
    print(f"perplexity of {args.model} on {len(ids) - 1} held-out tokens: float32 {ppl['float32']:.3f}, "
          f"int8 {ppl['int8']:.3f} ({change:+.2%})")

    with tempfile.TemporaryDirectory(prefix="scribe-bench-") as tmp:
        folder = Path(tmp) / "gpt2-124m-random"
        build_model(folder, args.seed)
        backends = {dtype: in_worker_thread(lambda d=dtype: load_model(str(folder), device="cpu", dtype=d))
                    for dtype in ("float32", "int8")}
    for backend in backends.values():
        run_scribe(backend, 8, args.seed)  # warm-up
    runs: dict[str, list[dict[str, float]]] = {"float32": [], "int8": []}
    for round_index in range(args.rounds):
        for dtype, backend in backends.items():
            runs[dtype].append(run_scribe(backend, args.new_tokens, args.seed + round_index))
        print(f"round {round_index + 1}: float32 {runs['float32'][-1]['tokens_per_s']:.1f} tok/s, "
              f"int8 {runs['int8'][-1]['tokens_per_s']:.1f} tok/s")
    rate = {dtype: statistics.median(r["tokens_per_s"] for r in dtype_runs) for dtype, dtype_runs in runs.items()}

    result = {
        "benchmark": "int8_decode",
        "settings": {"new_tokens": args.new_tokens, "rounds": args.rounds, "alternatives": 5, "speed_model": "GPT-2 124M shape, random weights",
                     "perplexity_model": args.model, "held_out": "tinyshakespeare/input.txt", "eval_tokens": len(ids) - 1,
                     "window": window},
        "hardware": hardware("cpu"),
        "float32_tokens_per_s": round(rate["float32"], 2),
        "int8_tokens_per_s": round(rate["int8"], 2),
        "ratio_int8_over_float32": round(rate["int8"] / rate["float32"], 3),
        "perplexity_float32": round(ppl["float32"], 4),
        "perplexity_int8": round(ppl["int8"], 4),
        "perplexity_change": round(change, 5),
        "runs": runs,
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    hw = result["hardware"]
    print(f"hardware: {hw['cpu']}, {hw['cpu_count']} CPUs, {hw['torch_threads']} torch threads, torch {hw['torch']}")
    print(f"decode: float32 {rate['float32']:.1f} tokens/s, int8 {rate['int8']:.1f} tokens/s, "
          f"ratio int8 / float32: {rate['int8'] / rate['float32']:.2f}")
    print(f"perplexity change: {change:+.2%}")
    print(f"wrote {RESULT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
