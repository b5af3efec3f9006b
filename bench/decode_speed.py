"""Decode speed: scribe's own streaming loop against transformers' `generate()` with a `TextIteratorStreamer`.

Both decode the same GPT-2-124M-shaped model (random weights, seeded; a GPT-2-sized byte-level BPE trained on Tiny
Shakespeare, see `bench_data.py`) from the same folder,
with the same prompt and sampling settings (temperature 0.8, top-k 50), the same number of new tokens, in the same
process, in interleaved rounds after one warm-up each. scribe streams with top-5 alternatives on (what the TUI shows).
Both models load in a worker thread that ends and decode in another while the main thread consumes the output (a
queue of events for scribe, the streamer's queue for generate()), as the TUI runs it (`in_worker_thread` says why the
loading thread matters). The process asks OpenMP for a short spin before torch loads, as scribe's commands do
(`scribe.engine.threads`); it applies to both. (`bench/openmp_wait.py` measures the waiting policies, quiet and with
busy processes beside.)

The memory-bandwidth ceiling is measured in the same run (`memory_bandwidth.read_bandwidth`: the best read bandwidth
at 1 thread and at all threads) and divided by the bytes of fp32 weights a GPT-2-124M token reads.

Fairness: `generate()` gets `min_new_tokens` so it never stops at end-of-text; scribe has no such switch, so its rate is
computed from the tokens it actually produced (with random weights end-of-text is practically never sampled; the
JSON records the token counts). The headline rate is new tokens / wall time from the call to the last text, prompt
included, for both; scribe's decode-only rate (after the first token) is recorded too.

    .venv/bin/python bench/decode_speed.py [--new-tokens 128] [--rounds 3] [--device cpu] [--threads N]

Writes bench/results/decode_speed.json.
"""

from __future__ import annotations

import argparse
import json
import queue
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, TypeVar

from scribe.engine.threads import prepare_cpu_threads

prepare_cpu_threads()  # a short OpenMP spin, as scribe's commands ask for before torch loads (applies to both)

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel, TextIteratorStreamer

from bench_data import gpt2_sized_tokenizer
from hardware import hardware
from memory_bandwidth import GPT2_124M_FP32_BYTES, read_bandwidth
from scribe.engine.base import StreamEnd
from scribe.engine.registry import load_model
from scribe.sampling.params import SamplingParams

REPO = Path(__file__).resolve().parents[1]
RESULT = REPO / "bench" / "results" / "decode_speed.json"
PROMPT = "The lighthouse keeper climbed the stairs one last time, and when he reached the lamp room he saw"
TEMPERATURE, TOP_K, ALTERNATIVES = 0.8, 50, 5


def build_model(folder: Path, seed: int) -> None:
    """GPT-2 124M shape with seeded random weights and a GPT-2-sized tokenizer (`bench_data`), saved as safetensors."""
    torch.manual_seed(seed)
    GPT2LMHeadModel(GPT2Config()).save_pretrained(folder)
    gpt2_sized_tokenizer().save_pretrained(folder)


T = TypeVar("T")


def in_worker_thread(load: Callable[[], T]) -> T:
    """`load()` in a thread that ends, as the studio loads a model. A thread that ran torch's parallel work keeps an
    OpenMP team while it lives, and once OpenMP manages more threads than there are cores, GNU OpenMP cuts every
    spin short: a model loaded (and quantised) on the main thread made the streams of worker threads wait as if
    passively (2 cores, int8: 65 against 110 tokens/s)."""
    result: list[T] = []
    thread = threading.Thread(target=lambda: result.append(load()))
    thread.start()
    thread.join()
    if not result:
        raise SystemExit("loading failed in the worker thread (see the traceback above)")
    return result[0]


def _pump(stream, events: queue.SimpleQueue) -> None:
    for event in stream:
        events.put(event)


def run_scribe(backend, new_tokens: int, seed: int) -> dict[str, float]:
    """Stream in a worker thread and consume the events in this one, as the TUI does (and as generate() is run)."""
    params = SamplingParams(temperature=TEMPERATURE, top_k=TOP_K, max_new_tokens=new_tokens, seed=seed)
    events: queue.SimpleQueue = queue.SimpleQueue()
    start = time.perf_counter()
    thread = threading.Thread(target=_pump, args=(backend.stream(PROMPT, params, alternatives=ALTERNATIVES), events))
    thread.start()
    pieces = []
    while not isinstance(event := events.get(), StreamEnd):
        pieces.append(event.text)
    wall = time.perf_counter() - start
    thread.join()
    assert event.error is None and event.text.startswith("".join(pieces)), event
    return {"tokens": event.tokens, "wall_s": wall, "tokens_per_s": event.tokens / wall, "decode_tokens_per_s": event.tokens_per_s}


def run_generate(model, tokenizer, new_tokens: int, seed: int) -> dict[str, float]:
    inputs = tokenizer(PROMPT, return_tensors="pt").to(model.device)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True)
    result: dict[str, torch.Tensor] = {}
    kwargs = dict(
        **inputs,
        streamer=streamer,
        do_sample=True,
        temperature=TEMPERATURE,
        top_k=TOP_K,
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        pad_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    start = time.perf_counter()
    thread = threading.Thread(target=lambda: result.setdefault("out", model.generate(**kwargs)))
    thread.start()
    text = "".join(streamer)
    wall = time.perf_counter() - start
    thread.join()
    tokens = result["out"].shape[1] - inputs["input_ids"].shape[1]
    assert text, "generate() streamed no text"
    return {"tokens": tokens, "wall_s": wall, "tokens_per_s": tokens / wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="torch intra-op threads for both (default: scribe's choice)")
    args = parser.parse_args()
    dtype = "float32" if args.device == "cpu" else "bfloat16"

    with tempfile.TemporaryDirectory(prefix="scribe-bench-") as tmp:
        folder = Path(tmp) / "gpt2-124m-random"
        build_model(folder, args.seed)
        backend = in_worker_thread(lambda: load_model(str(folder), device=args.device, dtype=dtype))
        model = in_worker_thread(
            lambda: AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, dtype)).to(args.device).eval())
        tokenizer = AutoTokenizer.from_pretrained(folder)

    if args.threads:
        torch.set_num_threads(args.threads)  # after loading: scribe's backend sets its own count when it loads
    print(f"model: GPT-2 124M shape, {backend.info.parameters / 1e6:.1f}M parameters, random weights, {dtype}")
    run_scribe(backend, 8, args.seed)  # warm-up
    run_generate(model, tokenizer, 8, args.seed)
    scribe_runs, generate_runs = [], []
    for round_index in range(args.rounds):
        seed = args.seed + round_index
        scribe_runs.append(run_scribe(backend, args.new_tokens, seed))
        generate_runs.append(run_generate(model, tokenizer, args.new_tokens, seed))
        print(
            f"round {round_index + 1}: scribe {scribe_runs[-1]['tokens_per_s']:.1f} tok/s, "
            f"generate {generate_runs[-1]['tokens_per_s']:.1f} tok/s"
        )

    scribe_rate = statistics.median(r["tokens_per_s"] for r in scribe_runs)
    generate_rate = statistics.median(r["tokens_per_s"] for r in generate_runs)
    decode_rate = statistics.median(r["decode_tokens_per_s"] for r in scribe_runs)
    ceiling = read_bandwidth(mib=256, repeats=3) * 1e9 / GPT2_124M_FP32_BYTES if args.device == "cpu" else None
    result = {
        "benchmark": "decode_speed",
        "settings": {
            "new_tokens": args.new_tokens,
            "rounds": args.rounds,
            "temperature": TEMPERATURE,
            "top_k": TOP_K,
            "scribe_alternatives": ALTERNATIVES,
            "prompt_tokens": backend.count_tokens(PROMPT),
        },
        "hardware": hardware(args.device),
        "scribe_tokens_per_s": round(scribe_rate, 2),
        "generate_tokens_per_s": round(generate_rate, 2),
        "ratio_scribe_over_generate": round(scribe_rate / generate_rate, 3),
        "scribe_decode_only_tokens_per_s": round(decode_rate, 2),
        "bandwidth_ceiling_tokens_per_s": None if ceiling is None else round(ceiling, 1),
        "scribe_decode_share_of_ceiling": None if ceiling is None else round(decode_rate / ceiling, 3),
        "runs": {"scribe": scribe_runs, "generate": generate_runs},
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    hw = result["hardware"]
    print(f"hardware: {hw['cpu']}, {hw['cpu_count']} CPUs, {hw['torch_threads']} torch threads, torch {hw['torch']}")
    print(f"scribe stream (top-{ALTERNATIVES} alternatives): {scribe_rate:.1f} tokens/s (median of {args.rounds})")
    print(f"transformers generate() + TextIteratorStreamer: {generate_rate:.1f} tokens/s (median of {args.rounds})")
    print(f"ratio scribe / generate: {scribe_rate / generate_rate:.3f}")
    if ceiling is not None:
        print(f"memory-bandwidth ceiling (best read bandwidth / fp32 weights): {ceiling:.1f} tokens/s; "
              f"scribe decodes at {decode_rate:.1f} tokens/s = {decode_rate / ceiling:.0%} of it")
    print(f"wrote {RESULT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
