"""Context assembly time for a 100,000-word chapter (target: 50 ms or less).

The chapter is generated: ~1,500 paragraphs of 40-100 words drawn (seeded) from the words of this repository's
README, with the names of a 50-entry lorebook sprinkled in (about 170,000 tokens). Tokens are counted with the bundled
model's BPE tokenizer (`models/scribe-gutenberg/tokenizer.json`, the Rust `tokenizers` library that transformers' fast
tokenizers use), as the studio counts them: paragraphs from the end of the story, no further than the budget reaches,
new ones in batches, each count cached. Texts are counted as `TransformersBackend.count_tokens(_batch)` counts them: by
the tokenizer's pieces (`scribe.engine.token_pieces`: the text cut with Python's `re`, each distinct piece encoded
once); the figure for encoding every paragraph whole (`encode_batch_fast`, the tokenizer's own speed) is given too.
On one thread, as in the studio, which sets TOKENIZERS_PARALLELISM=false.
The assembly has a memory, an author's note at depth 3 and the 50-entry lorebook (scan depth 200 tokens, budget 1,000).

For each prompt budget (the bundled model's 128 tokens, then 8k, 32k and 128k for long-context models):
- cold: a fresh counter (no paragraph and no piece counted before: the first assembly after loading the model and
  opening the chapter; making the piece counter, once per model load, is timed apart);
- cold, encoding whole paragraphs: the same with each new paragraph encoded by the tokenizer (no pieces);
- after the status bar's count: the first assembly once the studio has counted the text before the cursor (it does
  so in a worker when the model is loaded, the chapter opened or the cursor moved: the writer's usual first ctrl+j);
  that count's own time is given too;
- warm: the counter kept across assemblies, one word typed at the end each time (what the studio does while the
  writer types: only the changed paragraph is counted again).
Median of `--rounds` runs each, wall-clock; the cold figure also in CPU time of the thread (on a machine shared with
other work the wall-clock figures grow with the load, the CPU time much less).

    .venv/bin/python bench/context_assembly.py [--rounds 7]

Writes bench/results/context_assembly.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import time
from functools import partial
from pathlib import Path

from tokenizers import Tokenizer

from scribe.engine.token_pieces import PieceCounter
from scribe.studio.assembly import CachedCounter, assemble, count_text
from scribe.studio.lorebook import LoreEntry, Lorebook

REPO = Path(__file__).resolve().parents[1]
WORDS = 100_000
BUDGETS = (128, 8_192, 32_768, 131_072)
TARGET_MS = 50.0
TOKENIZER = REPO / "models" / "scribe-gutenberg" / "tokenizer.json"


def machine() -> dict[str, object]:
    """CPU model and count and the load average (no torch: assembly does not use it)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "load_average_1min": round(os.getloadavg()[0], 2)}


def chapter(names: list[str], seed: int = 0) -> str:
    """About WORDS words in paragraphs separated by blank lines."""
    vocabulary = re.findall(r"[A-Za-z][a-z']+", (REPO / "README.md").read_text(encoding="utf-8"))
    rng = random.Random(seed)
    paragraphs, count = [], 0
    while count < WORDS:
        size = min(rng.randint(40, 100), WORDS - count)
        words = [rng.choice(names) if rng.random() < 0.01 else rng.choice(vocabulary) for _ in range(size)]
        paragraphs.append(" ".join(words).capitalize() + ".")
        count += size
    return "\n\n".join(paragraphs)


def studio_counter(pieces: PieceCounter) -> CachedCounter:
    """The counter the studio's assembly uses: texts counted by pieces, alone or in batches, each count cached."""
    return CachedCounter(lambda text: pieces.count([text])[0], batch=pieces.count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # as the studio runs it (scribe/commands/tui.py)
    tokenizer = Tokenizer.from_file(str(TOKENIZER))

    def count(tokenizer: Tokenizer, text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False))

    def batch(tokenizer: Tokenizer, texts: list[str]) -> list[int]:
        return [len(encoding) for encoding in tokenizer.encode_batch_fast(texts, add_special_tokens=False)]

    names = [f"Name{i}" for i in range(50)]
    book = Lorebook(tuple(LoreEntry(keys=(name, f"/{name}'s\\b/i"), text=f"{name} is character {i} of the story, "
                                    "with a history, a voice and a secret.", name=name, order=i)
                          for i, name in enumerate(names)), scan_depth=200, budget=1_000)
    text = chapter(names)
    memory = "A long novel. Third person, past tense, terse and physical prose."
    results = []
    for budget in BUDGETS:
        cpu_colds: list[float] = []

        def run(counter: CachedCounter, story: str, budget: int = budget, cpu: list[float] | None = None) -> float:
            started, started_cpu = time.perf_counter(), time.thread_time()
            result = assemble(story, budget=budget, count=counter, memory=memory, note="[Mood: dread]",
                              note_depth=3, lorebook=book)
            elapsed = (time.perf_counter() - started) * 1000
            if cpu is not None:
                cpu.append((time.thread_time() - started_cpu) * 1000)
            assert result.tokens <= budget
            return elapsed

        colds, setups = [], []
        for _ in range(args.rounds):
            fresh = Tokenizer.from_file(str(TOKENIZER))  # its cache of words encoded is empty too
            started = time.perf_counter()
            pieces = PieceCounter(fresh, add_special_tokens=False)
            setups.append((time.perf_counter() - started) * 1000)
            colds.append(run(studio_counter(pieces), text, cpu=cpu_colds))
        cold, setup, cold_cpu = statistics.median(colds), statistics.median(setups), statistics.median(cpu_colds)
        wholes = []
        for _ in range(args.rounds):
            fresh = Tokenizer.from_file(str(TOKENIZER))
            wholes.append(run(CachedCounter(partial(count, fresh), batch=partial(batch, fresh)), text))
        whole = statistics.median(wholes)
        opened, counted = [], []
        for _ in range(args.rounds):
            fresh = Tokenizer.from_file(str(TOKENIZER))
            counter = studio_counter(PieceCounter(fresh, add_special_tokens=False))
            started = time.perf_counter()
            count_text(text, counter)
            counted.append((time.perf_counter() - started) * 1000)
            opened.append(run(counter, text))
        after_count, status_count = statistics.median(opened), statistics.median(counted)
        counter = studio_counter(PieceCounter(tokenizer, add_special_tokens=False))
        run(counter, text)
        warm = statistics.median(run(counter, text + " word" * (i + 1)) for i in range(args.rounds))
        results.append({"budget": budget, "cold_ms": round(cold, 2), "cold_cpu_ms": round(cold_cpu, 2),
                        "cold_encoding_whole_paragraphs_ms":
                        round(whole, 2), "after_status_count_ms": round(after_count, 2),
                        "status_count_ms": round(status_count, 2), "warm_ms": round(warm, 2),
                        "piece_counter_setup_ms": round(setup, 2)})
        print(f"budget {budget:>7} tokens: cold {cold:6.2f} ms (CPU time {cold_cpu:6.2f} ms; encoding whole paragraphs "
              f"{whole:6.2f} ms); "
              f"after the status bar's count {after_count:6.2f} ms (that count, in a worker: {status_count:.1f} ms); "
              f"warm (one word typed) {warm:6.2f} ms; piece counter made in {setup:.1f} ms")
    info = machine()
    print(f"chapter: {len(text.split())} words, {len(text)} characters; target {TARGET_MS:.0f} ms; "
          f"{info['cpu']} ({info['cpu_count']} CPUs, load {info['load_average_1min']})")
    out = REPO / "bench" / "results" / "context_assembly.json"
    out.write_text(json.dumps({"words": len(text.split()), "target_ms": TARGET_MS, "rounds": args.rounds,
                               "results": results, "hardware": info}, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
