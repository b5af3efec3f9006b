"""scribe's Llama-architecture decode (`scribe.engine.llama_decoder`) against transformers' `generate()` and against
llama.cpp on the same model converted to GGUF, and how each rate holds up as the context grows.

The model is a SmolLM2-135M shape (hidden 576, 30 layers, 9 query and 3 key/value heads, MLP 1536, a tied
49152-token output head, 8192 positions, rope theta 100000) with seeded random weights and the tests' small
byte-level BPE, saved with save_pretrained and written to GGUF (`gguf_export`) in f32 and q8_0. Everything is greedy.

- Short prompt: scribe's stream (top-5 alternatives) in float32 and int8, transformers' `generate()` in float32
  (whole `generate()` minus a prefill-only call), and llama.cpp f32 and q8_0 with its default thread waiting and with
  passive waiting (`llamacpp_runner`: one process per file and policy).
- Context sweep (`--contexts`): after a prompt of N random token ids, scribe (its sampling loop and prompt cache, as
  a stream runs them) against llama.cpp, float32 against f32 and int8 against q8_0. The prompt runs once; later
  rounds reuse it from the cache on both sides, and only the decode is timed.

Rates are decode tokens per second after the first token; rounds alternate the engines (the order reversed every
other round) and medians are compared; so are, as `paired_ratios`, the ratios within each round (their median),
which the host's moving speed disturbs less: both sides of a round meet much the same host. Each side uses
`--threads` threads (scribe's steps give cores to other busy programs, `scribe.engine.threads.StepThreads`; a quiet
machine has none). Everything runs on the main thread.

Needs the `gguf` extra (`pip install 'scribe[gguf]'`: llama-cpp-python and gguf).

    .venv/bin/python bench/llama_decode.py [--new-tokens 64] [--rounds 7] [--contexts 256,1024,4096] [--tiny]

`--tiny` runs a 2-layer model in seconds (a check of the script, not a figure).
Writes bench/results/llama_decode.json (not with --tiny).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

from scribe.engine.threads import prepare_cpu_threads

prepare_cpu_threads()

import torch  # noqa: E402

from hardware import hardware  # noqa: E402
from llamacpp_runner import POLICIES, LlamaCppWorker, start_workers  # noqa: E402
from scribe.engine.base import StreamEnd  # noqa: E402
from scribe.engine.prompt_cache import PromptCache  # noqa: E402
from scribe.engine.streaming import StreamRun, sampled_tokens  # noqa: E402
from scribe.engine.transformers_backend import TransformersBackend  # noqa: E402
from scribe.sampling.params import SamplingParams  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PROMPT = "It was a dark and stormy night; the rain fell in torrents, except at occasional intervals, when"
PAIRS = {"float32": "f32", "int8": "q8_0"}
"""scribe's dtype and the llama.cpp file type it is compared with."""
SMOLLM2_135M = dict(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                    num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=8192, rope_theta=100000.0,
                    rms_norm_eps=1e-5, tie_word_embeddings=True)
TINY = dict(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=8192, rope_theta=100000.0, rms_norm_eps=1e-5,
            tie_word_embeddings=True)


def build(folder: Path, shape: dict) -> Path:
    """A Llama of `shape` with seeded random weights and the tests' small tokenizer, saved in `folder`."""
    sys.path.insert(0, str(REPO / "tests" / "engine"))
    from tiny_models import save_tokenizer
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = save_tokenizer(folder)
    config = LlamaConfig(**shape, bos_token_id=tokenizer.bos_token_id, eos_token_id=None)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def scribe_rate(backend: TransformersBackend, tokens: int) -> float:
    """scribe's stream of `tokens` greedy tokens after PROMPT (top-5 alternatives): tokens/s after the first."""
    params = SamplingParams(temperature=0.0, max_new_tokens=tokens)
    end = [i for i in backend.stream(PROMPT, params, alternatives=5) if isinstance(i, StreamEnd)][0]
    if end.error or end.tokens < tokens:
        raise SystemExit(f"scribe's stream ended early: {end.reason} {end.error}")
    return end.tokens_per_s


def scribe_context_rate(backend: TransformersBackend, cache: PromptCache, ids: list[int], tokens: int) -> float:
    """scribe's sampling loop (what a stream runs: prompt cache, sampler with top-5 alternatives, step threads)
    after the prompt `ids`: tokens/s after the first."""
    params = SamplingParams(temperature=0.0, max_new_tokens=tokens)
    run = StreamRun(cancel=threading.Event())
    times = []
    with torch.inference_mode():
        for _ in sampled_tokens(cache, ids, params, run, context_length=backend.info.context_length, alternatives=5,
                                token_text=backend.token_text, decode=lambda _: "", threads=backend._step_threads.scope):
            times.append(time.perf_counter())
    if len(times) < tokens:
        raise SystemExit(f"scribe's loop ended after {len(times)} tokens: {run.reason}")
    return (len(times) - 1) / (times[-1] - times[0])


def generate_rate(model: torch.nn.Module, ids: torch.Tensor, tokens: int) -> float:
    with torch.inference_mode():
        start = time.perf_counter()
        model.generate(ids, max_new_tokens=1, do_sample=False, pad_token_id=0)
        prefill = time.perf_counter() - start
        start = time.perf_counter()
        model.generate(ids, max_new_tokens=tokens, do_sample=False, pad_token_id=0, min_new_tokens=tokens)
        return (tokens - 1) / (time.perf_counter() - start - prefill)


def interleaved(runners: dict[str, Callable[[], float]], rounds: int, label: str) -> dict[str, list[float]]:
    """Each runner once per round, the order reversed every other round, after one warm-up each."""
    for run in runners.values():
        run()
    rates: dict[str, list[float]] = {name: [] for name in runners}
    for round_index in range(rounds):
        for name in list(runners) if round_index % 2 == 0 else list(reversed(runners)):
            rates[name].append(runners[name]())
        print(f"{label} round {round_index + 1}: " + ", ".join(f"{name} {rates[name][-1]:.1f}" for name in runners)
              + " tok/s", flush=True)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--contexts", default="256,1024,4096", help="prompt lengths of the sweep ('' skips it)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--tiny", action="store_true", help="a 2-layer model: check the script in seconds")
    args = parser.parse_args()
    contexts = [int(c) for c in args.contexts.split(",") if c.strip()]
    result_path = REPO / "bench" / "results" / "llama_decode.json"
    from transformers import AutoModelForCausalLM

    with tempfile.TemporaryDirectory() as tmp:
        folder = build(Path(tmp) / "llama", TINY if args.tiny else SMOLLM2_135M)
        backends = {dtype: TransformersBackend.load(folder, device="cpu", dtype=dtype) for dtype in PAIRS}
        reference = AutoModelForCausalLM.from_pretrained(folder).eval()
        torch.set_num_threads(args.threads)
        prompt = backends["float32"].encode_ids(PROMPT)
        context = max([len(prompt), *contexts]) + args.new_tokens + 8
        workers: dict[str, LlamaCppWorker] = {}
        try:
            workers = start_workers(folder, Path(tmp), PAIRS.values(), threads=args.threads, context=context)

            def llama_cpp(key: str, ids: list[int]) -> Callable[[], float]:
                return lambda: workers[key].decode(ids, args.new_tokens)["decode_tokens_per_s"]

            short: dict[str, Callable[[], float]] = {}
            for dtype, qtype in PAIRS.items():
                short[f"scribe {dtype}"] = lambda b=backends[dtype]: scribe_rate(b, args.new_tokens)
                short.update({f"llama.cpp {qtype} {p}": llama_cpp(f"{qtype} {p}", prompt) for p in POLICIES})
            short["transformers generate float32"] = lambda: generate_rate(reference, torch.tensor([prompt]),
                                                                           args.new_tokens)
            short_rates = interleaved(short, args.rounds, "short prompt")

            sweep: dict[str, dict[str, list[float]]] = {}
            caches = {dtype: PromptCache(backend._steps) for dtype, backend in backends.items()}
            vocabulary = len(backends["float32"]._tokenizer)
            for length in contexts:
                ids = torch.randint(0, vocabulary, (length,), generator=torch.Generator().manual_seed(length)).tolist()
                runners: dict[str, Callable[[], float]] = {}
                for dtype, qtype in PAIRS.items():
                    runners[f"scribe {dtype}"] = lambda d=dtype, i=ids: scribe_context_rate(
                        backends[d], caches[d], i, args.new_tokens)
                    runners.update({f"llama.cpp {qtype} {p}": llama_cpp(f"{qtype} {p}", ids) for p in POLICIES})
                sweep[str(length)] = interleaved(runners, args.rounds, f"context {length}")
        finally:
            for worker in workers.values():
                worker.close()

    medians = {name: statistics.median(values) for name, values in short_rates.items()}
    sweep_medians = {length: {name: statistics.median(v) for name, v in rates.items()} for length, rates in sweep.items()}

    def ratios(rate: dict[str, float]) -> dict[str, float]:
        return {f"scribe {dtype} / llama.cpp {qtype} {p}": round(rate[f"scribe {dtype}"] / rate[f"llama.cpp {qtype} {p}"], 3)
                for dtype, qtype in PAIRS.items() for p in POLICIES}

    def paired(rates: dict[str, list[float]]) -> dict[str, float]:
        return {f"scribe {dtype} / llama.cpp {qtype} {p}": round(statistics.median(
                    ours / theirs for ours, theirs in zip(rates[f"scribe {dtype}"], rates[f"llama.cpp {qtype} {p}"])), 3)
                for dtype, qtype in PAIRS.items() for p in POLICIES}

    short_ratios = ratios(medians)
    for dtype in PAIRS:
        short_ratios[f"scribe {dtype} / transformers generate float32"] = round(
            medians[f"scribe {dtype}"] / medians["transformers generate float32"], 3)
    result = {
        "benchmark": "llama_decode",
        "model": "tiny Llama (2 layers)" if args.tiny else "random SmolLM2-135M shape (Llama)",
        "settings": {"new_tokens": args.new_tokens, "rounds": args.rounds, "threads": args.threads, "greedy": True,
                     "prompt_tokens": len(prompt), "contexts": contexts, "scribe_alternatives": 5,
                     "llama_cpp_flash_attn": True, "llama_cpp_repack": False},
        "hardware": hardware("cpu"),
        "tokens_per_s": {name: round(v, 2) for name, v in medians.items()},
        "ratios": short_ratios,
        "context_tokens_per_s": {length: {name: round(v, 2) for name, v in rates.items()}
                                 for length, rates in sweep_medians.items()},
        "context_ratios": {length: ratios(rates) for length, rates in sweep_medians.items()},
        "paired_ratios": paired(short_rates),
        "context_paired_ratios": {length: paired(rates) for length, rates in sweep.items()},
        "all": short_rates,
        "all_context": sweep,
    }
    if not args.tiny:
        result_path.parent.mkdir(parents=True, exist_ok=True)
        result_path.write_text(json.dumps(result, indent=2) + "\n")
    hw = result["hardware"]
    print(f"hardware: {hw['cpu']}, {hw['cpu_count']} CPUs, {args.threads} threads, torch {hw['torch']}, "
          f"load average {hw['load_average_1min']}")
    print("short prompt: " + ", ".join(f"{name} {rate:.1f} tok/s" for name, rate in medians.items()))
    for name, value in short_ratios.items():
        print(f"  {name}: {value:.3f}")
    for length, rates in result["context_ratios"].items():
        print(f"context {length}: " + ", ".join(f"{name} {value:.3f}" for name, value in rates.items()))
        print("  within each round (median): " + ", ".join(
            f"{name} {value:.3f}" for name, value in result["context_paired_ratios"][length].items()))
    print("--tiny: a check of the script; nothing written" if args.tiny else f"wrote {result_path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
