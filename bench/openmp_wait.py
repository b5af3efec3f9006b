"""How OpenMP's waiting threads and the step thread count hold up on a quiet machine and under load: scribe's GPT-2-124M
stream with passive waiting, GNU OpenMP's default spin (~300,000 turns), and scribe's short spin
(`scribe.engine.threads.SPIN_COUNT`), on every core, on one, and on the count scribe picks per step from the load
the other programs put on the cores (`StepThreads`).

Each configuration runs in its own process (OpenMP reads its policy when torch loads): a GPT-2-124M-shaped model
(random weights) loaded in a worker thread and streamed in another (`decode_speed.run_scribe`: sampler with top-5
alternatives, as the TUI runs it), a short warm-up, then `--tokens` tokens 3 times (quiet) or `--loaded-tokens` once
(under load, where a long spin can take a quarter of a second per token); the figure is tokens per second (median).
"Under load" starts `--busy` busy processes (pure Python loops; default: one per core but one, and one per core)
next to it, standing in for other programs.

    .venv/bin/python bench/openmp_wait.py [--tokens 64] [--loaded-tokens 24]

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
POLICIES = ("passive", "default spin", "scribe")
"""OMP_WAIT_POLICY=PASSIVE; neither variable set (GNU OpenMP's default); what scribe's commands set."""


def child(folder: str, tokens: int, repeats: int) -> None:
    """Load in a worker thread, stream in others; print the tokens/s of each repeat as JSON."""
    from decode_speed import in_worker_thread, run_scribe
    from scribe.engine.registry import load_model

    backend = in_worker_thread(lambda: load_model(folder, device="cpu", dtype="float32"))
    run_scribe(backend, 8, 0)
    rates = [run_scribe(backend, tokens, seed)["decode_tokens_per_s"] for seed in range(repeats)]
    print(json.dumps({"tokens_per_s": rates}))


def spin() -> None:
    while True:
        pass


def run_child(folder: str, tokens: int, repeats: int, policy: str, threads: str) -> float:
    """tokens/s of one configuration; `threads` is "all", "1" or "scribe" (no SCRIBE_THREADS: scribe's choice)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "SCRIBE_THREADS")}
    if policy == "passive":
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    elif policy == "scribe":
        from scribe.engine.threads import prepare_cpu_threads

        prepare_cpu_threads(env)
    if threads != "scribe":
        env["SCRIBE_THREADS"] = str(os.cpu_count() or 1) if threads == "all" else threads
    command = [sys.executable, __file__, "--child", folder, "--tokens", str(tokens), "--repeats", str(repeats)]
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return statistics.median(json.loads(out.strip().splitlines()[-1])["tokens_per_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--loaded-tokens", type=int, default=24)
    parser.add_argument("--busy", default="", help="busy process counts to try, e.g. 1,2 (default: cores-1 and cores)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.tokens, args.repeats)
        return
    from decode_speed import build_model
    from hardware import hardware

    cores = os.cpu_count() or 1
    busy_counts = [int(n) for n in args.busy.split(",") if n] or sorted({max(1, cores - 1), cores})
    configurations = [(policy, "all") for policy in POLICIES] + [("scribe", "1"), ("scribe", "scribe")]
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="scribe-bench-") as tmp:
        folder = str(Path(tmp) / "gpt2-124m-random")
        build_model(Path(folder), 0)
        for busy_count in [0, *busy_counts]:
            load = "quiet" if busy_count == 0 else f"{busy_count} busy"
            results[load] = {}
            busy = [multiprocessing.Process(target=spin, daemon=True) for _ in range(busy_count)]
            for process in busy:
                process.start()
            try:
                for policy, threads in configurations:
                    key = f"{policy}, {'scribe picks the' if threads == 'scribe' else threads} threads"
                    tokens, repeats = (args.tokens, 3) if busy_count == 0 else (args.loaded_tokens, 1)
                    results[load][key] = round(run_child(folder, tokens, repeats, policy, threads), 1)
                    print(f"{load}: {key}: {results[load][key]} tokens/s", flush=True)
            finally:
                for process in busy:
                    process.terminate()
    result = {
        "benchmark": "openmp_wait",
        "settings": {"tokens": args.tokens, "loaded_tokens": args.loaded_tokens, "alternatives": 5,
                     "model": "GPT-2 124M shape, random weights, float32", "busy": "busy Python processes"},
        "hardware": hardware("cpu"),
        "tokens_per_s": results,
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    hw = result["hardware"]
    print(f"hardware: {hw['cpu']}, {hw['cpu_count']} CPUs, torch {hw['torch']}")
    print(f"wrote {RESULT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
