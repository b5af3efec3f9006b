"""A float16 key/value cache against a float32 one: what rounding the cached keys and values costs a model with real
weights.

The bundled model (`models/scribe-gutenberg`, trained by scribe; or --model) reads held-out text it never trained on
(Tiny Shakespeare) in non-overlapping windows of its context, twice on PyTorch's path, which is the same code either
way but for the cache's element type (`KVCacheSlots.use_half_cache`): once scored a window at a time (the prompt's
pass, which attends to what the cache holds), once stepped a token at a time after each window's first token (what a
stream runs). Reported: each perplexity, its change, how often the most likely next token differs, and the largest
difference in a next-token probability. scribe's native step, the default on the CPU, keeps a float16 cache.

    .venv/bin/python bench/half_cache.py [--model scribe-gutenberg] [--eval-tokens 16384] [--step-tokens 4096]

Writes bench/results/half_cache.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

import torch
import torch.nn.functional as F

from bench_data import SHAKESPEARE
from hardware import hardware
from int8_decode import perplexity
from scribe.engine.registry import load_model

REPO = Path(__file__).resolve().parents[1]
RESULT = REPO / "bench" / "results" / "half_cache.json"


def stepped_logits(backend, ids: list[int], window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The next-token logits at every position of `ids` but each window's first, run a token at a time through the
    cache after that first token ([positions, vocab]), and the tokens they predict ([positions])."""
    decoder = backend._steps
    logits, targets = [], []
    with torch.inference_mode():
        decoder.reserve(window)
        for start in range(0, len(ids) - 1, window):
            chunk = torch.tensor(ids[start : start + window + 1])
            decoder.prefill(chunk[:1])
            logits += [decoder.step(token[None]) for token in chunk[1:-1]]
            targets += chunk[2:].tolist()
    return torch.stack(logits), torch.tensor(targets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="scribe-gutenberg", help="a model with real weights")
    parser.add_argument("--eval-tokens", type=int, default=16384, help="held-out tokens scored a window at a time")
    parser.add_argument("--step-tokens", type=int, default=4096, help="held-out tokens stepped a token at a time")
    args = parser.parse_args()
    os.environ["SCRIBE_NATIVE"] = "0"  # PyTorch's path takes either cache; the native step only float16
    os.environ["SCRIBE_BLAS"] = "torch"  # PyTorch's own products: the quicker for a model this small
    backends = {name: load_model(args.model, device="cpu", dtype="float32") for name in ("float32", "float16")}
    backends["float16"]._steps.use_half_cache()
    text = SHAKESPEARE.read_text(encoding="utf-8")
    ids = backends["float32"]._encode(text)[: args.eval_tokens + 1]
    window = min(backends["float32"].info.context_length, 1024)
    scored = {name: perplexity(backend, ids, window) for name, backend in backends.items()}
    stepped_ids = ids[: args.step_tokens + 1]
    stepped_runs = {name: stepped_logits(backend, stepped_ids, window) for name, backend in backends.items()}
    logits = {name: values for name, (values, _) in stepped_runs.items()}
    targets = stepped_runs["float32"][1]
    stepped = {name: math.exp(F.cross_entropy(values, targets).item()) for name, values in logits.items()}
    top_changed = (logits["float32"].argmax(-1) != logits["float16"].argmax(-1)).float().mean().item()
    probability_gap = (logits["float32"].softmax(-1) - logits["float16"].softmax(-1)).abs().max().item()
    result = {
        "benchmark": "half_cache",
        "settings": {"model": args.model, "held_out": "tinyshakespeare/input.txt", "window": window,
                     "scored_tokens": len(ids) - 1, "stepped_positions": len(targets)},
        "hardware": hardware("cpu"),
        "scored_perplexity": {name: round(value, 4) for name, value in scored.items()},
        "scored_change": round(scored["float16"] / scored["float32"] - 1, 6),
        "stepped_perplexity": {name: round(value, 4) for name, value in stepped.items()},
        "stepped_change": round(stepped["float16"] / stepped["float32"] - 1, 6),
        "most_likely_token_changed": round(top_changed, 6),
        "largest_probability_difference": round(probability_gap, 6),
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{args.model}, Tiny Shakespeare, windows of {window}: scored ({len(ids) - 1} tokens) perplexity "
          f"float32 cache {scored['float32']:.3f}, float16 {scored['float16']:.3f} ({result['scored_change']:+.4%}); "
          f"stepped ({len(targets)} positions) {stepped['float32']:.3f} against {stepped['float16']:.3f} "
          f"({result['stepped_change']:+.4%}); most likely token changed at {top_changed:.3%} of positions, "
          f"probabilities at most {probability_gap:.2e} apart")
    print(f"wrote {RESULT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
