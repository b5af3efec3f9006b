"""Command-line start-up: process start to the first token of `scribe generate` on the bundled model, and to the end
of `scribe --help` and `scribe models list` (issue #19 §5: ≤1.5 s, <0.5 s and <0.5 s on a quiet machine).

Each case runs as a fresh `python -m scribe ...` with a private SCRIBE_HOME (default settings). `generate` runs with
`--json --max-new-tokens 1`, so its first line on stdout is the first token: the time is from just before the spawn
to that line. The user CPU time is the whole process's (os.wait4), which the machine's other work does not inflate as
it does the wall time. Baselines in the same run: `import torch` alone (the floor of any torch decoder) and the same
first token through the full transformers loader (`load_model(..., light=False)`, the path before the quick-start
loader). Cases alternate round by round, after one warm-up each (file-system caches).

    .venv/bin/python bench/cli_startup.py [--rounds 7]

Writes bench/results/cli_startup.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hardware import hardware

REPO = Path(__file__).resolve().parents[1]
RESULT = REPO / "bench" / "results" / "cli_startup.json"
BUNDLED = REPO / "models" / "scribe-gutenberg"
PROMPT = "It was a dark and stormy night; the rain fell in torrents"
FULL_LOADER = f"""
import sys
from scribe.engine.threads import prepare_cpu_threads
prepare_cpu_threads()
from scribe.engine.registry import load_model
from scribe.sampling.params import SamplingParams
backend = load_model({str(BUNDLED)!r}, light=False)
for item in backend.stream({PROMPT!r}, SamplingParams(seed=1, max_new_tokens=1)):
    print(type(item).__name__, flush=True)
"""
CASES: dict[str, tuple[list[str], bool]] = {
    # name: (argv after the interpreter, whether the time runs to the first line instead of the exit)
    "generate_first_token": (["-m", "scribe", "generate", "-m", str(BUNDLED), "-p", PROMPT, "--json",
                              "--max-new-tokens", "1", "--seed", "1"], True),
    "help": (["-m", "scribe", "--help"], False),
    "models_list": (["-m", "scribe", "models", "list"], False),
    "baseline_import_torch": (["-c", "import torch"], False),
    "baseline_full_loader_first_token": (["-c", FULL_LOADER], True),
}


def run_once(argv: list[str], first_line: bool, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds to the first stdout line or the exit, user CPU seconds of the whole process)."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                               cwd=REPO)
    assert process.stdout is not None
    if first_line:
        line = process.stdout.readline()
        wall = time.perf_counter() - start
        if not line:
            raise RuntimeError(f"{argv[:3]} printed nothing")
        process.stdout.read()
    else:
        process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if not first_line:
        wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{argv[:4]} exited with {process.returncode}")
    return wall, usage.ru_utime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "SCRIBE_HOME": home, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
        load_before = os.getloadavg()
        for argv, first in CASES.values():  # warm-up: file-system caches, .pyc files
            run_once(argv, first, env)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in CASES}
        for _ in range(args.rounds):
            for name, (argv, first) in CASES.items():
                samples[name].append(run_once(argv, first, env))
        load_after = os.getloadavg()
    results = {
        name: {"wall_s_median": round(statistics.median(w for w, _ in runs), 3),
               "user_cpu_s_median": round(statistics.median(u for _, u in runs), 3),
               "wall_s_all": [round(w, 3) for w, _ in runs]}
        for name, runs in samples.items()
    }
    report = {"benchmark": "cli_startup", "rounds": args.rounds, "hardware": hardware("cpu"),
              "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
              "targets_s": {"generate_first_token": 1.5, "help": 0.5, "models_list": 0.5}, "results": results}
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(report, indent=2) + "\n")
    info = report["hardware"]
    print(f"{info['cpu']} ({info['cpu_count']} CPUs), load average {load_before[0]:.2f} -> {load_after[0]:.2f}, "
          f"{args.rounds} rounds, medians")
    for name, result in results.items():
        print(f"  {name:34s} wall {result['wall_s_median']:6.3f} s   user CPU {result['user_cpu_s_median']:6.3f} s")
    full, light = results["baseline_full_loader_first_token"], results["generate_first_token"]
    print(f"  quick-start loader vs full loader, first token: {full['wall_s_median'] / light['wall_s_median']:.2f}x "
          f"wall, {full['user_cpu_s_median'] / light['user_cpu_s_median']:.2f}x user CPU")
    print(f"wrote {RESULT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
