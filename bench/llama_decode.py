"""scribe's Llama-architecture decode step (`scribe.engine.llama_decoder`) against transformers' `generate()` on a
SmolLM2-135M-shaped model (random weights, seed 0: hidden 576, 30 layers, 9 query and 3 key/value heads, a
49152-token output head), greedy, the same prompt and the same threads. scribe runs in float32 and int8; transformers
in float32. The rate is new tokens / wall time of the decode (after the first token for scribe's stream, whole
`generate()` minus one prefill-only call for transformers).

    .venv/bin/python bench/llama_decode.py [--new-tokens 64] [--rounds 3]

Writes bench/results/llama_decode.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from scribe.engine.threads import prepare_cpu_threads

prepare_cpu_threads()

import torch  # noqa: E402

from hardware import hardware  # noqa: E402
from scribe.engine.base import StreamEnd  # noqa: E402
from scribe.engine.transformers_backend import TransformersBackend  # noqa: E402
from scribe.sampling.params import SamplingParams  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULT = REPO / "bench" / "results" / "llama_decode.json"
PROMPT = "It was a dark and stormy night; the rain fell in torrents, except at occasional intervals, when"


def build(folder: Path) -> Path:
    sys.path.insert(0, str(REPO / "tests" / "engine"))
    from tiny_models import save_tokenizer
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = save_tokenizer(folder)
    config = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                         num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=2048,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=None, tie_word_embeddings=True)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def scribe_rate(backend: TransformersBackend, tokens: int) -> float:
    params = SamplingParams(temperature=0.0, max_new_tokens=tokens)
    end = [i for i in backend.stream(PROMPT, params, alternatives=5) if isinstance(i, StreamEnd)][0]
    if end.error or end.tokens < tokens:
        raise SystemExit(f"scribe's stream ended early: {end.reason} {end.error}")
    return end.tokens_per_s


def generate_rate(model: torch.nn.Module, ids: torch.Tensor, tokens: int) -> float:
    with torch.inference_mode():
        start = time.perf_counter()
        model.generate(ids, max_new_tokens=1, do_sample=False, pad_token_id=0)
        prefill = time.perf_counter() - start
        start = time.perf_counter()
        model.generate(ids, max_new_tokens=tokens, do_sample=False, pad_token_id=0, min_new_tokens=tokens)
        return (tokens - 1) / (time.perf_counter() - start - prefill)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from transformers import AutoModelForCausalLM

    with tempfile.TemporaryDirectory() as tmp:
        folder = build(Path(tmp))
        fp32 = TransformersBackend.load(folder, device="cpu", dtype="float32")
        int8 = TransformersBackend.load(folder, device="cpu", dtype="int8")
        reference = AutoModelForCausalLM.from_pretrained(folder).eval()
        ids = torch.tensor([fp32.encode_ids(PROMPT)])
        rates: dict[str, list[float]] = {"scribe_float32": [], "scribe_int8": [], "transformers_generate": []}
        for _ in range(args.rounds):  # interleaved, so a change in machine load hits all three
            rates["scribe_float32"].append(scribe_rate(fp32, args.new_tokens))
            rates["scribe_int8"].append(scribe_rate(int8, args.new_tokens))
            rates["transformers_generate"].append(generate_rate(reference, ids, args.new_tokens))
    medians = {name: statistics.median(values) for name, values in rates.items()}
    result = {"model": "random SmolLM2-135M shape (Llama)", "new_tokens": args.new_tokens, "rounds": args.rounds,
              "tokens_per_s": medians, "all": rates, "hardware": hardware("cpu")}
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(", ".join(f"{name} {rate:.1f} tok/s" for name, rate in medians.items()))


if __name__ == "__main__":
    main()
