"""Corpus preparation memory: the peak resident memory that reading, splitting and tokenising a generated corpus adds,
against the size of the token arrays it produces (target: at most 2x), streamed (`store_corpus`, as `scribe train`
prepares data) and, as the baseline in the same run, read whole into memory (`read_corpus`, as before).

The corpus is Tiny Shakespeare with smart quotes and dashes (so a whole text takes two bytes a character in memory),
its paragraphs shuffled and repeated to `--mb` megabytes in one file, prepared with `join_lines` and the Gutenberg
check on, split 90/10 and tokenised with a byte-level BPE of 8,192 tokens trained on the first million characters
(trained before measuring; training a tokenizer reads at most 16 million characters either way). Each variant runs
in its own child process; after the imports (torch and numpy included: `scribe train` has imported them, choosing
the device, before it prepares data; importing torch alone adds about 180 MB, which the first version of this
benchmark counted as preparation) and the tokenizer, the child resets the kernel's peak-RSS mark
(`/proc/self/clear_refs`), prepares the data into a fresh token cache and reads `VmHWM`: growth = VmHWM - VmRSS
before, the process's whole peak growth, native libraries and memory the allocator keeps included. A thread samples
VmRSS every 10 ms meanwhile and keeps the peak of each preparation stage (`corpus.stage()`), to show where it is.
Linux only.

    .venv/bin/python bench/corpus_memory.py [--mb 120]

Writes bench/results/corpus_memory.json.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_data import SHAKESPEARE

REPO = Path(__file__).resolve().parents[1]
RESULT = REPO / "bench" / "results" / "corpus_memory.json"


def make_corpus(path: Path, megabytes: float) -> None:
    """Tiny Shakespeare's paragraphs with smart quotes and dashes, shuffled and repeated to `megabytes`."""
    text = SHAKESPEARE.read_text(encoding="utf-8").replace("'", "\u2019").replace("--", "\u2014")
    paragraphs = text.split("\n\n")
    rng = random.Random(0)
    with open(path, "w", encoding="utf-8") as out:
        while out.tell() < megabytes * 1e6:
            rng.shuffle(paragraphs)
            out.write("\n\n".join(paragraphs) + "\n\n")


def _status(field: str) -> int:
    """A /proc/self/status memory field in bytes."""
    with open("/proc/self/status", encoding="ascii") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) * 1024


class StagePeaks(threading.Thread):
    """Samples VmRSS (above `before`) every 10 ms and keeps the peak of each preparation stage, named by
    `corpus.stage()` without its figures ("tokenising", "reading corpus.txt", ...)."""

    def __init__(self, before: int) -> None:
        super().__init__(daemon=True)
        self.before, self.peaks, self.done = before, {}, threading.Event()

    def run(self) -> None:
        from scribe.training.corpus import stage

        while not self.done.wait(0.01):
            now = stage()
            name = re.split(r"[:(\d]", now[0])[0].strip() if now else "starting"
            self.peaks[name] = max(self.peaks.get(name, 0), _status("VmRSS") - self.before)


def child(variant: str, corpus: Path, work: Path) -> dict[str, object]:
    """Prepare the corpus one way in this process; the memory figures."""
    import numpy  # noqa: F401 - loaded before measuring, as in `scribe train`
    import torch  # noqa: F401

    from scribe.training.bpe import train_bpe
    from scribe.training.corpus import Document, read_corpus, set_stage, store_corpus
    from scribe.training.dataset import encode_documents, split_corpus

    with open(corpus, encoding="utf-8") as handle:
        tokenizer = train_bpe([Document(corpus, handle.read(1_000_000))], vocab_size=8192)
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    before = _status("VmRSS")
    sampler = StagePeaks(before)
    sampler.start()
    start = time.perf_counter()
    if variant == "streamed":
        documents = store_corpus([corpus], work / "store.txt", join_lines=True).documents
    else:
        documents = read_corpus([corpus], join_lines=True).documents
    set_stage("splitting")
    train_docs, val_docs = split_corpus(documents, 0.1, seed=0)
    train = encode_documents(train_docs, tokenizer, work / f"cache-{variant}")
    val = encode_documents(val_docs, tokenizer, work / f"cache-{variant}")
    seconds = time.perf_counter() - start
    growth = _status("VmHWM") - before
    sampler.done.set()
    sampler.join()
    tokens = (train.ids.numel() + val.ids.numel()) * 4
    return {"variant": variant, "seconds": round(seconds, 1), "token_bytes": tokens, "rss_growth_bytes": growth,
            "ratio": round(growth / tokens, 2), "stage_peaks_bytes": sampler.peaks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=120.0, help="corpus size in megabytes")
    parser.add_argument("--child", nargs=3, metavar=("VARIANT", "CORPUS", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        variant, corpus, work = args.child
        print(json.dumps(child(variant, Path(corpus), Path(work))))
        return

    from hardware import hardware

    with tempfile.TemporaryDirectory(prefix="scribe-corpus-memory-") as folder:
        work = Path(folder)
        corpus = work / "corpus.txt"
        make_corpus(corpus, args.mb)
        size = corpus.stat().st_size
        rows = []
        for variant in ("streamed", "whole"):
            done = subprocess.run([sys.executable, __file__, "--child", variant, str(corpus), str(work)],
                                  capture_output=True, text=True, check=True, cwd=REPO)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    streamed, whole = rows
    print(f"corpus: {size / 1e6:,.1f} MB in one file; token arrays {streamed['token_bytes'] / 1e6:,.1f} MB")
    for row in rows:
        print(f"{row['variant']:>8}: peak RSS growth {row['rss_growth_bytes'] / 1e6:,.1f} MB = "
              f"{row['ratio']:.2f}x the token arrays ({row['seconds']} s); peak by stage: " +
              ", ".join(f"{name} {peak / 1e6:,.1f} MB" for name, peak in row["stage_peaks_bytes"].items()))
    print(f"target: at most 2x; streamed {'meets' if streamed['ratio'] <= 2 else 'MISSES'} it")
    info = hardware("cpu")
    print(f"hardware: {info['cpu']}, {info['cpu_count']} cores, load average {info['load_average_1min']}")
    RESULT.write_text(json.dumps({"corpus_bytes": size, "results": rows, "hardware": info}, indent=2) + "\n")


if __name__ == "__main__":
    main()
