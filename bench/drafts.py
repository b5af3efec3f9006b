"""N drafts of one prompt (siblings with their own seeds) in one batched decode (`stream_many`) against one stream,
and against the N streams one after another, on the bundled model: interleaved rounds in one run, the prompt cache
emptied before each request so each one runs its prompt. Target: N=4 batched within 2x the time of one.

    .venv/bin/python bench/drafts.py [--drafts 4] [--rounds 3] [--new-tokens 64]

Writes bench/results/drafts.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from scribe.engine.threads import prepare_cpu_threads

prepare_cpu_threads()

from hardware import hardware  # noqa: E402
from scribe.engine.base import StreamEnd  # noqa: E402
from scribe.engine.transformers_backend import TransformersBackend  # noqa: E402
from scribe.sampling.params import SamplingParams  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "scribe-gutenberg"
PROMPT = ("The rain had stopped by the time she reached the harbour, and the lamps along the quay burned low in the "
          "grey morning. The fishermen were mending their nets and speaking of the storm, and none of them looked up "
          "when she passed. She had come to find her brother, who had gone out three days before")


def timed(backend: TransformersBackend, settings: list[SamplingParams], *, batched: bool) -> tuple[float, int]:
    """Seconds for the drafts and the tokens they produced."""
    backend.forget_prompt()
    start = time.perf_counter()
    if batched:
        ends = [item for _, item in backend.stream_many(PROMPT, settings) if isinstance(item, StreamEnd)]
    else:
        ends = [list(backend.stream(PROMPT, p))[-1] for p in settings]
    seconds = time.perf_counter() - start
    if any(not isinstance(e, StreamEnd) or e.error for e in ends):
        raise SystemExit(f"a draft failed: {ends}")
    return seconds, sum(e.tokens for e in ends)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drafts", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--new-tokens", type=int, default=64)
    args = parser.parse_args()
    backend = TransformersBackend.load(MODEL, device="cpu")
    base = SamplingParams(max_new_tokens=args.new_tokens, temperature=0.8, top_k=40)
    timed(backend, [base.replace(seed=0)], batched=False)  # warm up
    times: dict[str, list[float]] = {"one": [], "batched": [], "one_after_another": []}
    tokens: dict[str, list[int]] = {name: [] for name in times}
    for round_ in range(args.rounds):
        settings = [base.replace(seed=1000 * round_ + n) for n in range(args.drafts)]
        for name, chosen, batched in (("one", settings[:1], False), ("batched", settings, True),
                                      ("one_after_another", settings, False)):
            seconds, produced = timed(backend, chosen, batched=batched)
            times[name].append(seconds)
            tokens[name].append(produced)
    one, batched, serial = (statistics.median(times[n]) for n in ("one", "batched", "one_after_another"))
    per_round = statistics.median(b / o for b, o in zip(times["batched"], times["one"]))  # robust to load bursts
    result = {
        "model": "models/scribe-gutenberg", "drafts": args.drafts, "new_tokens": args.new_tokens, "rounds": args.rounds,
        "seconds": {"one": round(one, 3), "batched": round(batched, 3), "one_after_another": round(serial, 3)},
        "batched_vs_one": round(batched / one, 2), "batched_vs_one_per_round_median": round(per_round, 2),
        "one_after_another_vs_one": round(serial / one, 2),
        "target_batched_vs_one": 2.0, "all": times, "tokens": tokens, "hardware": hardware("cpu"),
    }
    path = REPO / "bench" / "results" / "drafts.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{args.drafts} drafts of {args.new_tokens} tokens: batched {batched:.2f} s = {batched / one:.2f}x one draft "
          f"({one:.2f} s; per-round median {per_round:.2f}x); one after another {serial:.2f} s = {serial / one:.2f}x (target batched <= 2x); "
          f"load average {result['hardware']['load_average_1min']}")


if __name__ == "__main__":
    main()
