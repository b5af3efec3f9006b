"""OpenMP wait policy and thread count: scribe's GPT-2-124M decode step with idle threads spinning (GNU OpenMP's
default) against passive waiting (what scribe's commands ask for), on a quiet machine and under load.

Each configuration runs in its own process (the policy is read when torch loads): a GPT-2-124M-shaped model (random
weights) decodes with scribe's decoder and sampler in a worker thread, as the TUI runs it: a short warm-up, then
`--tokens` tokens 3 times (quiet) or `--loaded-tokens` once (under load, where spinning can take seconds per token);
the figure is milliseconds per token (median). "Under load" starts one busy process per core (pure Python loops)
next to it, standing in for other programs.

    .venv/bin/python bench/openmp_wait.py [--tokens 32] [--loaded-tokens 8]

Writes bench/results/openmp_wait.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULT = REPO / "bench" / "results" / "openmp_wait.json"


def child(folder: str, tokens: int, repeats: int) -> None:
    """Decode in a worker thread; print ms per token of each repeat as JSON."""
    import threading
    import time

    import torch
    from transformers import AutoModelForCausalLM

    from scribe.engine.gpt2_decoder import GPT2Decoder
    from scribe.sampling.params import SamplingParams
    from scribe.sampling.sampler import Sampler

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    decoder = GPT2Decoder(model)
    prompt = torch.arange(20) + 100

    def decode(tokens: int) -> float:
        sampler = Sampler(SamplingParams(temperature=0.8, top_k=50, seed=0))
        ids = torch.cat([prompt, torch.zeros(tokens, dtype=torch.long)])
        with torch.inference_mode():
            decoder.reserve(ids.numel())
            logits = decoder.prefill(prompt)
            start = time.perf_counter()
            for i in range(tokens):
                token = sampler.step(logits, ids[: 20 + i], 20, alternatives=5).token_id
                ids[20 + i] = token
                logits = decoder.step(ids[20 + i : 21 + i])
        return (time.perf_counter() - start) / tokens * 1000

    times: list[float] = []
    for count in [2] + [tokens] * repeats:  # the first is a warm-up
        worker = threading.Thread(target=lambda n=count: times.append(decode(n)))
        worker.start()
        worker.join()
    print(json.dumps({"ms_per_token": times[1:], "threads": torch.get_num_threads()}))


def spin() -> None:
    while True:
        pass


def run_child(folder: str, tokens: int, repeats: int, policy: str, threads: int) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env["OMP_NUM_THREADS"] = str(threads)
    if policy == "passive":
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    out = subprocess.run([sys.executable, __file__, "--child", folder, "--tokens", str(tokens), "--repeats", str(repeats)], env=env,
                         check=True, capture_output=True, text=True).stdout
    return statistics.median(json.loads(out.strip().splitlines()[-1])["ms_per_token"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--loaded-tokens", type=int, default=8)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.tokens, args.repeats)
        return
    from decode_speed import build_model
    from hardware import hardware

    cores = os.cpu_count() or 1
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="scribe-bench-") as tmp:
        folder = str(Path(tmp) / "gpt2-124m-random")
        build_model(Path(folder), 0)
        for load in ("quiet", "loaded"):
            busy = [multiprocessing.Process(target=spin, daemon=True) for _ in range(cores if load == "loaded" else 0)]
            for process in busy:
                process.start()
            try:
                for threads in sorted({1, cores}):
                    for policy in ("spin", "passive"):
                        key = f"{load}_{threads}_threads_{policy}"
                        tokens, repeats = (args.tokens, 3) if load == "quiet" else (args.loaded_tokens, 1)
                        results[key] = {"ms_per_token": round(run_child(folder, tokens, repeats, policy, threads), 1)}
                        print(f"{key}: {results[key]['ms_per_token']} ms/token", flush=True)
            finally:
                for process in busy:
                    process.terminate()
    best = {load: min(v["ms_per_token"] for k, v in results.items() if k.startswith(load)) for load in ("quiet", "loaded")}
    result = {
        "benchmark": "openmp_wait",
        "settings": {"tokens": args.tokens, "loaded_tokens": args.loaded_tokens, "model": "GPT-2 124M shape, random weights, float32", "alternatives": 5,
                     "load": f"{cores} busy Python processes" },
        "hardware": hardware("cpu"),
        "results": results,
        "ratio_spin_over_passive": {
            key.removesuffix("_spin"): round(value["ms_per_token"] / results[key.removesuffix("spin") + "passive"]["ms_per_token"], 3)
            for key, value in results.items() if key.endswith("_spin")
        },
        "best_ms_per_token": best,
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    hw = result["hardware"]
    print(f"hardware: {hw['cpu']}, {hw['cpu_count']} CPUs, torch {hw['torch']}")
    for key, ratio in result["ratio_spin_over_passive"].items():
        print(f"{key}: spin / passive = {ratio}")
    print(f"wrote {RESULT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
