"""GPT-2 decode against llama.cpp: scribe's stream (its own decoder and sampler, top-5 alternatives) in float32 and
int8 against llama.cpp (llama-cpp-python) on the same model converted to GGUF, f32 and q8_0, with llama.cpp's default
thread waiting (spinning) and with passive waiting.

The model is a GPT-2-124M shape with seeded random weights and a GPT-2-sized tokenizer (`decode_speed.build_model`),
saved with save_pretrained and written to GGUF at bench time (`gguf_export`: what llama.cpp's converter writes).
Both sides start from the same prompt token ids and sample with temperature 0.8 and top-k 50 (scribe in a worker
thread, as `decode_speed.run_scribe` runs it; llama.cpp through `Llama.generate`, in its own process per waiting
policy, see `llamacpp_runner`), `--threads` threads each. The rate is decode tokens per second after the first token.
Rounds alternate the engines, the order reversed every other round; medians are compared.

The memory-bandwidth ceiling is measured in the same run, after every round, in a process of its own
(`memory_bandwidth.read_bandwidth_elsewhere`; on a shared host it moves, and the best round counts), and divided by
the bytes of weight matrices one token reads: 4 per weight in float32, 1 (int8) and 34/32 (q8_0) when quantised. Each
round's rates are also set against the reading right after that round (the median of those shares is reported).

Needs the `gguf` extra (`pip install 'scribe[gguf]'`: llama-cpp-python and gguf).

    .venv/bin/python bench/llamacpp_decode.py [--new-tokens 128] [--rounds 11] [--threads N] [--tiny]

`--tiny` runs a 2-layer model with a small tokenizer in seconds (a check of the script, not a figure).
Writes bench/results/llamacpp_decode.json (not with --tiny).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from scribe.engine.threads import prepare_cpu_threads

prepare_cpu_threads()  # a short OpenMP spin for scribe, as its commands ask for before torch loads

import torch  # noqa: E402

from decode_speed import ALTERNATIVES, PROMPT, TEMPERATURE, TOP_K, build_model, in_worker_thread, run_scribe  # noqa: E402
from hardware import hardware  # noqa: E402
from llamacpp_runner import POLICIES, LlamaCppWorker, start_workers  # noqa: E402
from memory_bandwidth import read_bandwidth_elsewhere  # noqa: E402
from scribe.engine.registry import load_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PAIRS = {"float32": "f32", "int8": "q8_0"}
"""scribe's dtype and the llama.cpp file type it is compared with."""
BYTES_PER_WEIGHT = {"float32": 4.0, "int8": 1.0, "f32": 4.0, "q8_0": 34 / 32}


def build_tiny(folder: Path, seed: int) -> None:
    """A 2-layer GPT-2 with the tests' small byte-level BPE (a check of the script in seconds)."""
    sys.path.insert(0, str(REPO / "tests" / "engine"))
    from tiny_models import save_tokenizer
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = save_tokenizer(folder)
    torch.manual_seed(seed)
    config = GPT2Config(n_layer=2, n_head=2, n_embd=64, vocab_size=512, n_positions=512,
                        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id)
    GPT2LMHeadModel(config).save_pretrained(folder)


def matrix_weights(backend) -> int:
    """Weights of the matrices one decode step reads: every 2-D parameter but the position embedding (the token
    embedding counts once: GPT-2's output head is the same matrix)."""
    model = backend._model
    return sum(p.numel() for name, p in model.named_parameters() if p.ndim == 2 and "wpe" not in name)


def shares_of_each_round(runs: dict[str, list[dict[str, float]]], bandwidths: list[float],
                         weights: int) -> dict[str, float]:
    """Per engine, the median over rounds of its rate against the ceiling of the bandwidth read right after that
    round: on a host whose bandwidth moves between rounds, each rate meets the reading nearest to it."""
    return {name: statistics.median(run["decode_tokens_per_s"] * weights * BYTES_PER_WEIGHT[name.split()[1]]
                                    / (bandwidth * 1e9) for run, bandwidth in zip(name_runs, bandwidths))
            for name, name_runs in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=11,
                        help="rounds (the host's speed moves between runs: with fewer the ratio wanders)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--tiny", action="store_true", help="a 2-layer model: check the script in seconds")
    args = parser.parse_args()
    result_path = REPO / "bench" / "results" / "llamacpp_decode.json"

    with tempfile.TemporaryDirectory(prefix="scribe-bench-") as tmp:
        folder = Path(tmp) / "gpt2-random"
        (build_tiny if args.tiny else build_model)(folder, args.seed)
        backends = {dtype: in_worker_thread(lambda d=dtype: load_model(str(folder), device="cpu", dtype=d))
                    for dtype in PAIRS}
        torch.set_num_threads(args.threads)
        ids = backends["float32"].encode_ids(PROMPT)
        context = len(ids) + args.new_tokens + 8
        workers: dict[str, LlamaCppWorker] = {}
        try:
            workers = start_workers(folder, Path(tmp), PAIRS.values(), threads=args.threads, context=context)
            runners = {}
            for dtype, qtype in PAIRS.items():
                runners[f"scribe {dtype}"] = lambda seed, b=backends[dtype]: run_scribe(b, args.new_tokens, seed)
                for policy in POLICIES:
                    runners[f"llama.cpp {qtype} {policy}"] = lambda seed, w=workers[f"{qtype} {policy}"]: \
                        w.decode(ids, args.new_tokens, temperature=TEMPERATURE, top_k=TOP_K, seed=seed)
            for run in runners.values():  # warm-up
                run(args.seed)
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in runners}
            bandwidths: list[float] = []
            for round_index in range(args.rounds):
                order = list(runners) if round_index % 2 == 0 else list(reversed(runners))
                for name in order:
                    runs[name].append(runners[name](args.seed + round_index))
                bandwidths.append(read_bandwidth_elsewhere())
                print(f"round {round_index + 1}: " + ", ".join(
                    f"{name} {runs[name][-1]['decode_tokens_per_s']:.1f}" for name in runners) + " tok/s", flush=True)
        finally:
            for worker in workers.values():
                worker.close()

    weights = matrix_weights(backends["float32"])
    bandwidth = max(bandwidths)
    rate = {name: statistics.median(r["decode_tokens_per_s"] for r in name_runs) for name, name_runs in runs.items()}
    ceiling = {kind: bandwidth * 1e9 / (weights * size) for kind, size in BYTES_PER_WEIGHT.items()}
    ratios = {f"scribe {dtype} / llama.cpp {qtype} {policy}": rate[f"scribe {dtype}"] / rate[f"llama.cpp {qtype} {policy}"]
              for dtype, qtype in PAIRS.items() for policy in POLICIES}
    shares = {name: rate[name] / ceiling[name.split()[1]] for name in rate}
    round_shares = shares_of_each_round(runs, bandwidths, weights)
    result = {
        "benchmark": "llamacpp_decode",
        "settings": {"model": "tiny GPT-2 (2 layers)" if args.tiny else "GPT-2 124M shape, random weights",
                     "new_tokens": args.new_tokens, "rounds": args.rounds, "threads": args.threads,
                     "prompt_tokens": len(ids), "temperature": TEMPERATURE, "top_k": TOP_K,
                     "scribe_alternatives": ALTERNATIVES, "llama_cpp_flash_attn": True, "llama_cpp_repack": False,
                     "matrix_weights": weights},
        "hardware": hardware("cpu"),
        "decode_tokens_per_s": {name: round(value, 2) for name, value in rate.items()},
        "ratios": {name: round(value, 3) for name, value in ratios.items()},
        "read_bandwidth_gb_per_s": round(bandwidth, 2),
        "read_bandwidth_gb_per_s_after_each_round": [round(value, 2) for value in bandwidths],
        "bandwidth_ceiling_tokens_per_s": {kind: round(value, 1) for kind, value in ceiling.items()},
        "share_of_ceiling": {name: round(value, 3) for name, value in shares.items()},
        "share_of_each_round_ceiling_median": {name: round(value, 3) for name, value in round_shares.items()},
        "runs": runs,
    }
    if not args.tiny:
        result_path.parent.mkdir(parents=True, exist_ok=True)
        result_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    hw = result["hardware"]
    print(f"hardware: {hw['cpu']}, {hw['cpu_count']} CPUs, {args.threads} threads, torch {hw['torch']}, "
          f"load average {hw['load_average_1min']}")
    for name, value in rate.items():
        print(f"{name}: {value:.1f} tokens/s ({shares[name]:.0%} of the {name.split()[1]} bandwidth ceiling "
              f"{ceiling[name.split()[1]]:.1f}; median {round_shares[name]:.0%} of the ceiling after each round)")
    for name, value in ratios.items():
        print(f"{name}: {value:.3f}")
    print("--tiny: a check of the script; nothing written" if args.tiny else f"wrote {result_path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
