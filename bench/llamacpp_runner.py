"""llama.cpp (through llama-cpp-python) as a benchmark baseline: one worker process per GGUF file and thread-waiting
policy, driven from the benchmark's process so that rounds can alternate with scribe's.

llama-cpp-python's wheels built on Linux link GNU OpenMP, and ggml's threads then wait at OpenMP barriers: how they
wait is read from the environment when the library loads, so each policy needs its own process. "default" removes
OMP_WAIT_POLICY and GOMP_SPINCOUNT (llama.cpp's own behaviour: threads spin), "passive" sets OMP_WAIT_POLICY=PASSIVE
(what scribe's commands ask for). A worker also keeps llama.cpp's OpenMP runtime out of the benchmark's own process
(torch loads its own copy).

Weight repacking into llama.cpp's extra CPU buffer types (its AMX and other repacked kernels) is turned off: on this
project's Xeon (AMX) the build's repacked q8_0 path crashed (segmentation fault) in the first decode, for GPT-2 and
Llama files alike; f32 does not repack. On CPUs without AMX, q8_0 runs the same kernels either way.

The worker decodes with `Llama.generate` (llama.cpp's sampler chain, the path a llama-cpp-python user takes) from the
prompt token ids it is sent, with flash attention on (what llama.cpp's own CLI picks on a CPU, "auto"), and reports
decode tokens per second after the first token. A prompt that starts like the previous one reuses its cached
positions (llama-cpp-python's prefix match), as scribe's prompt cache does.

    python bench/llamacpp_runner.py --serve FILE.gguf --context N --threads T   (started by `LlamaCppWorker`)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

POLICIES = ("default", "passive")


class LlamaCppWorker:
    """A running worker for one GGUF file and one waiting policy; `decode` runs one round in it."""

    def __init__(self, model: Path, *, policy: str, threads: int, context: int) -> None:
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
        if policy == "passive":
            env["OMP_WAIT_POLICY"] = "PASSIVE"
        self.policy = policy
        self.process = subprocess.Popen(
            [sys.executable, "-X", "faulthandler", __file__, "--serve", str(model), "--context", str(context), "--threads", str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self._reply()  # the model is loaded

    def decode(self, ids: list[int], new_tokens: int, *, temperature: float = 0.0, top_k: int = 0,
               seed: int = 0) -> dict[str, float]:
        """Generate `new_tokens` after the prompt `ids`; {"tokens", "first_token_s", "decode_tokens_per_s"}."""
        request = {"ids": ids, "new_tokens": new_tokens, "temperature": temperature, "top_k": top_k, "seed": seed}
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._reply()

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            self.process.wait(timeout=60)

    def _reply(self) -> dict:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the llama.cpp worker exited (status {self.process.wait()})")
        return json.loads(line)

    def __enter__(self) -> "LlamaCppWorker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_workers(folder: Path, out_dir: Path, qtypes: Iterable[str], *, threads: int,
                  context: int) -> dict[str, LlamaCppWorker]:
    """The model in `folder` exported to GGUF in each of `qtypes` (into `out_dir`), with one worker per file and wait
    policy, keyed "<qtype> <policy>"; the caller closes them (those started are closed here if one fails)."""
    from gguf_export import export_gguf

    workers: dict[str, LlamaCppWorker] = {}
    try:
        for qtype in qtypes:
            path = export_gguf(folder, out_dir / f"{folder.name}-{qtype}.gguf", qtype)
            for policy in POLICIES:
                workers[f"{qtype} {policy}"] = LlamaCppWorker(path, policy=policy, threads=threads, context=context)
    except BaseException:
        for worker in workers.values():
            worker.close()
        raise
    return workers


def open_llama(model: Path, context: int, threads: int):
    """A `llama_cpp.Llama` for `model` as the worker runs it: CPU only, flash attention on, no weight repacking."""
    import llama_cpp
    import llama_cpp.llama

    defaults = llama_cpp.llama_model_default_params

    def without_repacking():  # Llama() has no argument for it; it reads the defaults through this name
        params = defaults()
        params.use_extra_bufts = False
        return params

    llama_cpp.llama.llama_cpp.llama_model_default_params = without_repacking
    try:
        return llama_cpp.Llama(model_path=str(model), n_ctx=context, n_batch=512, n_threads=threads,
                               n_threads_batch=threads, n_gpu_layers=0, flash_attn=True, verbose=False)
    finally:
        llama_cpp.llama.llama_cpp.llama_model_default_params = defaults


def serve(model: Path, context: int, threads: int) -> None:
    """Load `model`, then answer one decode request per line of stdin with one JSON line on stdout."""
    llama = open_llama(model, context, threads)
    out = sys.stdout
    out.write(json.dumps({"loaded": str(model), "vocab": llama.n_vocab()}) + "\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        llama.set_seed(request["seed"])
        times: list[float] = []
        start = time.perf_counter()
        for _ in llama.generate(request["ids"], top_k=request["top_k"] or llama.n_vocab(), top_p=1.0, min_p=0.0,
                                temp=request["temperature"], repeat_penalty=1.0, reset=True):
            times.append(time.perf_counter())
            if len(times) == request["new_tokens"]:
                break
        rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
        out.write(json.dumps({"tokens": len(times), "first_token_s": times[0] - start,
                              "decode_tokens_per_s": rate}) + "\n")
        out.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", type=Path, required=True)
    parser.add_argument("--context", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args()
    serve(args.serve, args.context, args.threads)


if __name__ == "__main__":
    main()
