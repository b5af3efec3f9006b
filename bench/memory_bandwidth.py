"""Memory bandwidth of this machine, STREAM-style, in PyTorch: the ceiling for batch-1 decoding.

Decoding one token reads every weight matrix once, so tokens/s can be at most read bandwidth / bytes of weights.
Three kernels over float32 arrays far larger than the caches (256 MiB each by default):

- copy:  b[:] = a            (bytes moved: read a + write b)
- scale: b[:] = 3.0 * a      (read a + write b)
- read:  a.sum()             (read a): the access pattern of a matrix-vector product over the weights

Each is timed over several repeats at 1 thread and at every core; the best repeat counts (as STREAM does). The
baseline in the same run is plain memory traffic at 1 thread against all threads.

    .venv/bin/python bench/memory_bandwidth.py [--mib 256] [--repeats 5]

Writes bench/results/memory_bandwidth.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from hardware import hardware

RESULT = Path(__file__).resolve().parent / "results" / "memory_bandwidth.json"


def measure(mib: int, repeats: int, threads: int) -> dict[str, float]:
    """GB/s of copy, scale and read at `threads` intra-op threads (best of `repeats`)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        count = mib * 2**20 // 4
        a = torch.rand(count)
        b = torch.empty_like(a)
        size = a.numel() * a.element_size()
        kernels = {
            "copy": (lambda: b.copy_(a), 2 * size),
            "scale": (lambda: torch.mul(a, 3.0, out=b), 2 * size),
            "read": (lambda: a.sum(), size),
        }
        result = {}
        for name, (kernel, moved) in kernels.items():
            kernel()
            best = min(_timed(kernel) for _ in range(repeats))
            result[f"{name}_gb_per_s"] = round(moved / best / 1e9, 2)
        return result
    finally:
        torch.set_num_threads(previous)


def read_bandwidth(mib: int = 256, repeats: int = 5) -> float:
    """Best read GB/s over 1 thread and all threads (what decode_speed.py compares against)."""
    return max(measure(mib, repeats, threads)["read_gb_per_s"] for threads in {1, torch.get_num_threads()})


def read_bandwidth_elsewhere(mib: int = 256, repeats: int = 3) -> float:
    """`read_bandwidth` measured in a process of its own. Measured in the decoding process, its thread keeps a GNU
    OpenMP team, and with more OpenMP threads than cores every spin is cut short (`scribe/ui/worker_threads.py`):
    on a 2-core AMD EPYC the int8 decode that followed in another thread fell from 125 to 49-62 tokens/s."""
    code = f"from memory_bandwidth import read_bandwidth; print(read_bandwidth({mib}, {repeats}))"
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent, check=True,
                            capture_output=True, text=True)
    return float(result.stdout.strip().splitlines()[-1])


def _timed(kernel) -> float:
    start = time.perf_counter()
    kernel()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    runs = {f"{threads}_threads": measure(args.mib, args.repeats, threads) for threads in sorted({1, cores})}
    best_read = max(run["read_gb_per_s"] for run in runs.values())
    result = {
        "benchmark": "memory_bandwidth",
        "settings": {"mib_per_array": args.mib, "repeats": args.repeats},
        "hardware": hardware("cpu"),
        "runs": runs,
        "best_read_gb_per_s": best_read,
        "ratio_all_threads_over_one": round(runs[f"{cores}_threads"]["read_gb_per_s"] / runs["1_threads"]["read_gb_per_s"], 3),
        "gpt2_124m_fp32_ceiling_tokens_per_s": round(best_read * 1e9 / GPT2_124M_FP32_BYTES, 1),
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    hw = result["hardware"]
    print(f"hardware: {hw['cpu']}, {hw['cpu_count']} CPUs, torch {hw['torch']}, load average {hw['load_average_1min']}")
    for name, run in runs.items():
        print(f"{name}: " + ", ".join(f"{k.removesuffix('_gb_per_s')} {v} GB/s" for k, v in run.items()))
    print(f"all threads / 1 thread (read): {result['ratio_all_threads_over_one']}")
    print(f"GPT-2-124M fp32 ceiling: {result['gpt2_124m_fp32_ceiling_tokens_per_s']} tokens/s "
          f"({GPT2_124M_FP32_BYTES / 1e6:.0f} MB of weights read per token)")
    print(f"wrote {RESULT.relative_to(RESULT.parents[2])}")


GPT2_124M_FP32_BYTES = 4 * (12 * (768 * 3 * 768 + 768 * 768 + 2 * 768 * 3072) + 50257 * 768)
"""Weights a GPT-2-124M step reads: 12 blocks of attention and MLP matrices, and the output head (biases, norms and
one position row are under 0.1 % and left out)."""


if __name__ == "__main__":
    main()
