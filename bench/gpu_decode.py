"""GPU decode speed (CUDA only): scribe's GPT-2 step with CUDA graphs against the same step eager and against
transformers' `generate()` with a `TextIteratorStreamer`, for a GPT-2-124M and a GPT-2-1.5B shape in bfloat16 at
batch 1, with the memory-bandwidth bound measured on the same GPU.

Models have random weights (seed 0) and a GPT-2-sized tokenizer (`bench_data.py`). Every run streams `--new-tokens`
tokens (temperature 0.8, top-k 50; scribe with top-5 alternatives, sampled on the GPU) from the same prompt, in
interleaved rounds after a warm-up; rates are decode-only (after the first token). The bound is the GPU's copy
bandwidth (a 1 GiB device-to-device copy: bytes read + written / time) divided by the bytes of weights one token reads
(every matrix and the output head, bfloat16).

    .venv/bin/python bench/gpu_decode.py [--new-tokens 256] [--rounds 3] [--shapes gpt2,gpt2-xl]

Writes bench/results/gpu_decode.json. Not run yet: the machine this was written on has no GPU.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from pathlib import Path

import torch
from transformers import GPT2Config, GPT2LMHeadModel, TextIteratorStreamer

from bench_data import gpt2_sized_tokenizer
from hardware import hardware
from scribe.engine.base import ModelInfo
from scribe.engine.transformers_backend import TransformersBackend
from scribe.sampling.params import SamplingParams

REPO = Path(__file__).resolve().parents[1]
RESULT = REPO / "bench" / "results" / "gpu_decode.json"
PROMPT = "The lighthouse keeper climbed the stairs one last time, and when he reached the lamp room he saw"
SHAPES = {"gpt2": dict(n_embd=768, n_layer=12, n_head=12), "gpt2-xl": dict(n_embd=1600, n_layer=48, n_head=25)}


def copy_bandwidth(device: torch.device) -> float:
    """Bytes/s of a 1 GiB device-to-device copy (read + write), best of 10."""
    a = torch.empty(2**28, dtype=torch.float32, device=device)
    b = torch.empty_like(a)
    best = float("inf")
    for _ in range(10):
        torch.cuda.synchronize()
        start = time.perf_counter()
        b.copy_(a)
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * a.numel() * a.element_size() / best


def weight_bytes(model: torch.nn.Module) -> int:
    """Bytes one decode step reads: every parameter except the position table (one row of it is read)."""
    body = model.transformer
    return sum(p.numel() * p.element_size() for p in model.parameters()) - body.wpe.weight.numel() * body.wpe.weight.element_size()


def scribe_rate(backend: TransformersBackend, new_tokens: int, seed: int) -> float:
    params = SamplingParams(temperature=0.8, top_k=50, max_new_tokens=new_tokens, seed=seed)
    end = list(backend.stream(PROMPT, params, alternatives=5))[-1]
    assert end.error is None and end.tokens > 1, end
    return end.tokens_per_s


def generate_rate(model, tokenizer, new_tokens: int, seed: int) -> float:
    inputs = tokenizer(PROMPT, return_tensors="pt").to(model.device)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True)
    kwargs = dict(**inputs, streamer=streamer, do_sample=True, temperature=0.8, top_k=50, max_new_tokens=new_tokens,
                  min_new_tokens=new_tokens, pad_token_id=tokenizer.eos_token_id)
    torch.manual_seed(seed)
    thread = threading.Thread(target=model.generate, kwargs=kwargs)
    start = time.perf_counter()
    thread.start()
    stamps = [time.perf_counter() for piece in streamer if piece]
    thread.join()
    first = stamps[0] if stamps else start
    return (new_tokens - 1) / (time.perf_counter() - first)


def measure(shape: str, args: argparse.Namespace, device: torch.device, bandwidth: float) -> dict[str, object]:
    torch.manual_seed(0)
    with device:
        model = GPT2LMHeadModel(GPT2Config(**SHAPES[shape])).to(torch.bfloat16).eval()
    tokenizer = gpt2_sized_tokenizer()
    info = ModelInfo(name=shape, backend="transformers", location="memory", device=str(device), dtype="bfloat16",
                     context_length=model.config.n_positions, vocab_size=model.config.vocab_size,
                     parameters=sum(p.numel() for p in model.parameters()), extra={})
    backends = {"graphs": TransformersBackend(model, tokenizer, info),
                "eager": TransformersBackend(model, tokenizer, info, cuda_graphs=False)}
    for backend in backends.values():
        scribe_rate(backend, 16, args.seed)  # warm-up (captures the graphs)
    generate_rate(model, tokenizer, 16, args.seed)
    rates: dict[str, list[float]] = {"graphs": [], "eager": [], "generate": []}
    for round_index in range(args.rounds):
        seed = args.seed + round_index
        for name, backend in backends.items():
            rates[name].append(scribe_rate(backend, args.new_tokens, seed))
        rates["generate"].append(generate_rate(model, tokenizer, args.new_tokens, seed))
        print(f"{shape} round {round_index + 1}: " + ", ".join(f"{k} {v[-1]:.0f} tok/s" for k, v in rates.items()))
    median = {name: statistics.median(values) for name, values in rates.items()}
    bound = bandwidth / weight_bytes(model)
    return {
        "parameters": info.parameters,
        "weight_bytes_per_token": weight_bytes(model),
        "tokens_per_s": {name: round(value, 1) for name, value in median.items()},
        "ratio_graphs_over_eager": round(median["graphs"] / median["eager"], 3),
        "ratio_graphs_over_generate": round(median["graphs"] / median["generate"], 3),
        "bandwidth_bound_tokens_per_s": round(bound, 1),
        "graphs_share_of_bound": round(median["graphs"] / bound, 3),
        "runs": rates,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shapes", default="gpt2,gpt2-xl")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("gpu_decode.py: skipped, no CUDA GPU here (no result written)")
        return
    device = torch.device("cuda")
    bandwidth = copy_bandwidth(device)
    print(f"copy bandwidth: {bandwidth / 1e9:.0f} GB/s on {torch.cuda.get_device_name(device)}")
    shapes = {shape: measure(shape, args, device, bandwidth) for shape in args.shapes.split(",")}
    result = {
        "benchmark": "gpu_decode",
        "settings": {"new_tokens": args.new_tokens, "rounds": args.rounds, "dtype": "bfloat16", "alternatives": 5},
        "hardware": hardware("cuda"),
        "copy_bandwidth_gb_per_s": round(bandwidth / 1e9, 1),
        "shapes": shapes,
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for shape, r in shapes.items():
        t = r["tokens_per_s"]
        print(f"{shape}: graphs {t['graphs']} tok/s, eager {t['eager']}, generate() {t['generate']}; "
              f"graphs / eager {r['ratio_graphs_over_eager']}, graphs / generate {r['ratio_graphs_over_generate']}; "
              f"{r['graphs_share_of_bound']:.0%} of the bandwidth bound ({r['bandwidth_bound_tokens_per_s']} tok/s)")
    print(f"wrote {RESULT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
