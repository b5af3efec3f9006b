"""Context assembly time for a 100,000-word chapter (target: 50 ms or less).

The chapter is generated: ~1,500 paragraphs of 40-100 words drawn (seeded) from the words of this repository's
README, with the names of a 50-entry lorebook sprinkled in (about 170,000 tokens). Tokens are counted with the bundled
model's BPE tokenizer (`models/scribe-gutenberg/tokenizer.json`, the Rust `tokenizers` library that transformers' fast
tokenizers use), as the studio counts them: paragraphs from the end of the story, no further than the budget reaches,
new ones in batches, each count cached. A batch is counted as `TransformersBackend.count_tokens_batch` counts it: by
the tokenizer's pieces (`scribe.engine.token_pieces`: the text cut with Python's `re`, each distinct piece encoded
once); the figure for encoding every paragraph whole (`encode_batch_fast`, the tokenizer's own speed) is given too.
On one thread, as in the studio, which sets TOKENIZERS_PARALLELISM=false.
The assembly has a memory, an author's note at depth 3 and the 50-entry lorebook (scan depth 200 tokens, budget 1,000).

For each prompt budget (the bundled model's 128 tokens, then 8k, 32k and 128k for long-context models):
- cold: a fresh counter (no paragraph and no piece counted before: the first assembly after loading the model and
  opening the chapter; making the piece counter, once per model load, is timed apart);
- cold, encoding whole paragraphs: the same with each new paragraph encoded by the tokenizer (no pieces);
- warm: the counter kept across assemblies, one word typed at the end each time (what the studio does while the
  writer types: only the changed paragraph is counted again).
Median of `--rounds` runs each.

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
from scribe.studio.assembly import CachedCounter, assemble
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
        def run(counter: CachedCounter, story: str, budget: int = budget) -> float:
            started = time.perf_counter()
            result = assemble(story, budget=budget, count=counter, memory=memory, note="[Mood: dread]",
                              note_depth=3, lorebook=book)
            elapsed = (time.perf_counter() - started) * 1000
            assert result.tokens <= budget
            return elapsed

        colds, setups = [], []
        for _ in range(args.rounds):
            fresh = Tokenizer.from_file(str(TOKENIZER))  # its cache of words encoded is empty too
            started = time.perf_counter()
            pieces = PieceCounter(fresh, add_special_tokens=False)
            setups.append((time.perf_counter() - started) * 1000)
            colds.append(run(CachedCounter(partial(count, fresh), batch=pieces.count), text))
        cold, setup = statistics.median(colds), statistics.median(setups)
        wholes = []
        for _ in range(args.rounds):
            fresh = Tokenizer.from_file(str(TOKENIZER))
            wholes.append(run(CachedCounter(partial(count, fresh), batch=partial(batch, fresh)), text))
        whole = statistics.median(wholes)
        counter = CachedCounter(partial(count, tokenizer), batch=PieceCounter(tokenizer, add_special_tokens=False).count)
        run(counter, text)
        warm = statistics.median(run(counter, text + " word" * (i + 1)) for i in range(args.rounds))
        results.append({"budget": budget, "cold_ms": round(cold, 2), "cold_encoding_whole_paragraphs_ms":
                        round(whole, 2), "warm_ms": round(warm, 2), "piece_counter_setup_ms": round(setup, 2)})
        print(f"budget {budget:>7} tokens: cold {cold:7.2f} ms (encoding whole paragraphs {whole:7.2f} ms), "
              f"warm (one word typed) {warm:6.2f} ms; piece counter made in {setup:.1f} ms")
    info = machine()
    print(f"chapter: {len(text.split())} words, {len(text)} characters; target {TARGET_MS:.0f} ms; "
          f"{info['cpu']} ({info['cpu_count']} CPUs, load {info['load_average_1min']})")
    out = REPO / "bench" / "results" / "context_assembly.json"
    out.write_text(json.dumps({"words": len(text.split()), "target_ms": TARGET_MS, "rounds": args.rounds,
                               "results": results, "hardware": info}, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
