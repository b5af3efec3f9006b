"""scribe's GGUF decode (llama.cpp's logits, scribe's sampler with top-5 alternatives) against llama-cpp-python's own
`create_completion` (llama.cpp's sampler) on the same file, the same threads and the same sampling settings
(temperature 0.8, top-k 40, seed 0). The rate is decode tokens per second after the first token; the target is a
ratio of at least 0.9 (the Python-side sampler costs at most 10 %).

Without --model it builds a random Qwen2 GGUF (hidden 512, 8 layers, 32000-token output head, float32) in a temporary
folder with the tests' writer (needs transformers, tokenizers and gguf). Needs `pip install 'scribe[gguf]'`.

    .venv/bin/python bench/gguf_decode.py [--model FILE.gguf] [--new-tokens 64] [--rounds 3] [--threads N]

Writes bench/results/gguf_decode.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from hardware import hardware

REPO = Path(__file__).resolve().parents[1]
RESULT = REPO / "bench" / "results" / "gguf_decode.json"
PROMPT = "It was a dark and stormy night; the rain fell in torrents, except at occasional intervals, when"


def build_model(folder: Path) -> Path:
    """A random Qwen2 of a small real model's proportions, written as GGUF."""
    sys.path.insert(0, str(REPO / "tests" / "engine"))
    from tiny_models import save_tiny_llama, write_gguf

    hf = save_tiny_llama(folder / "hf", "qwen2", layers=8, hidden=512, vocab_size=32000, context=2048)
    return write_gguf(hf, folder / "bench-qwen2.gguf")


def scribe_rate(model: Path, tokens: int) -> float:
    """Tokens/s after the first token of scribe's GGUF backend (a fresh prompt each round: no cache reuse)."""
    from scribe.engine.base import StreamEnd
    from scribe.engine.gguf_backend import GGUFBackend
    from scribe.sampling.params import SamplingParams

    backend = GGUFBackend.load(model, device="cpu")
    try:
        params = SamplingParams(temperature=0.8, top_k=40, seed=0, max_new_tokens=tokens)
        end = [i for i in backend.stream(PROMPT, params, alternatives=5) if isinstance(i, StreamEnd)][0]
        if end.error:
            raise SystemExit(f"scribe's stream failed: {end.error}")
        return end.tokens_per_s
    finally:
        backend.close()


def llama_cpp_rate(model: Path, tokens: int, threads: int, context: int) -> float:
    """Tokens/s after the first token of llama-cpp-python's create_completion (stream=True)."""
    import llama_cpp

    llama = llama_cpp.Llama(model_path=str(model), n_ctx=context, n_batch=512, n_threads=threads,
                            n_threads_batch=threads, n_gpu_layers=0, logits_all=False, verbose=False)
    try:
        times = []
        for _ in llama.create_completion(PROMPT, max_tokens=tokens, temperature=0.8, top_k=40, top_p=1.0, min_p=0.0,
                                         repeat_penalty=1.0, seed=0, stream=True):
            times.append(time.perf_counter())
        return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    finally:
        llama.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a GGUF file (default: a random Qwen2 built here)")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    os.environ["SCRIBE_THREADS"] = str(args.threads)
    from scribe.engine.threads import prepare_cpu_threads

    prepare_cpu_threads()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or build_model(Path(tmp))
        from scribe.engine.gguf_backend import GGUFBackend

        probe = GGUFBackend.load(model, device="cpu")
        context = probe.info.context_length
        probe.close()
        scribe, reference = [], []
        for _ in range(args.rounds):  # interleaved, so a change in machine load hits both
            scribe.append(scribe_rate(model, args.new_tokens))
            reference.append(llama_cpp_rate(model, args.new_tokens, args.threads, context))
        result = {
            "model": str(args.model or "random Qwen2 (hidden 512, 8 layers, vocab 32000, F32)"),
            "threads": args.threads, "new_tokens": args.new_tokens, "rounds": args.rounds,
            "scribe_tokens_per_s": statistics.median(scribe), "llama_cpp_tokens_per_s": statistics.median(reference),
            "ratio": statistics.median(scribe) / statistics.median(reference), "all_scribe": scribe,
            "all_llama_cpp": reference, "hardware": hardware("cpu"),
        }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"scribe {result['scribe_tokens_per_s']:.1f} tok/s, llama-cpp-python {result['llama_cpp_tokens_per_s']:.1f} "
          f"tok/s: ratio {result['ratio']:.2f} ({args.threads} threads)")


if __name__ == "__main__":
    main()
