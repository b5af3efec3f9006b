"""Training throughput: scribe's trainer against the transformers `Trainer`, same model, data, batch and length.

A GPT-2-architecture model (shape `small`: 4 layers, 4 heads, 256 wide, the bundled model's shape; `tiny`: 2 layers,
2 heads, 64 wide; or `gpt2-124m`) with seeded random weights and a tokenizer (`bpe`: the 8192-token byte-level BPE
`scribe train` makes for Tiny Shakespeare, as for the bundled model; or `gpt2`: a GPT-2-sized
tokenizer from `bench_data.py`, with GPT-2's 50257-row embedding and head) is saved once and fine-tuned from that folder by both: scribe's
`Trainer` (mode finetune, in this process, evaluation and checkpoints pushed past the end) and `transformers.Trainer`
(blocks of the same Tiny Shakespeare tokens, no evaluation, no saving, no logging until the end). Same steps, batch,
sequence length, AdamW settings, warmup + cosine, gradient clipping, dropout, and on CUDA bf16 autocast for both.

With `--lora` both train LoRA adapters (r 8, alpha 16, dropout 0.05 on the attention and MLP matrices, added by
scribe's own `add_adapters` for the Trainer too) on the frozen base, whose own dropout is off on both sides (scribe's
`--dropout`, default 0, `lora.set_base_dropout`).

The rate is tokens trained / wall time of the training loop: scribe's own clock (`Finished.elapsed_s`, data reading
and the model load excluded) and the Trainer's `train_runtime`. On CUDA the script also prints model FLOPs
utilisation: 6 x parameters + 12 x layers x width x context FLOPs per token (nanoGPT's estimate) against `--peak-tflops`
(989 = H100 SXM dense bf16). Each run is a fresh process (so its peak resident memory, imports included, is its own),
`--rounds` times each, alternating which goes first; the medians are compared. The process asks for scribe's CPU
settings before torch loads (`scribe.engine.threads.prepare_cpu_threads`, as a training job runs: no huge pages);
they apply to both.

Precision: scribe runs as `scribe train` does by default (`--precision auto`, scribe/training/precision.py): with
`--lora` on a CPU with bfloat16 instructions (AVX512-BF16 or AMX) its frozen base is loaded in bfloat16 and the
products run under bfloat16 autocast; elsewhere on a CPU, float32. The Trainer runs in float32 on a CPU, as it does
by default; `--trainer-bf16` gives it bfloat16 autocast too (and with `--lora` a bfloat16 base, as scribe's), and
`--precision float32` holds scribe to float32. The JSON records which each side used.

Where scribe's speed comes from (scribe/training/loss.py): the output head and the cross-entropy run fused, a chunk
at a time, so the [positions, vocab] logits are never stored and no softmax is redone in the backward pass; GPT-2's
Python-level tanh-GELU is swapped for PyTorch's one-kernel version of the same formula.

    .venv/bin/python bench/train_speed.py [--shape small] [--tokenizer bpe] [--steps 40] [--batch-size 8] [--context 256] [--rounds 3]
    .venv/bin/python bench/train_speed.py --device cuda --shape gpt2-124m --tokenizer gpt2 --batch-size 32 --context 1024
    .venv/bin/python bench/train_speed.py --shape gpt2-124m --tokenizer gpt2 --lora --steps 6 --context 128 --rounds 2
    .venv/bin/python bench/train_speed.py --shape gpt2-124m --tokenizer gpt2 --lora --steps 6 --context 128 --rounds 2 --max-memory 1.2
    .venv/bin/python bench/train_speed.py --shape gpt2-124m --tokenizer gpt2 --lora --steps 6 --context 128 --rounds 2 --trainer-bf16

Writes bench/results/train_speed_<device>_<shape>_<tokenizer>[_lora][_<GB>gb][_<precision>][_trainer-bf16].json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import statistics
import tempfile
from pathlib import Path

from scribe.engine.threads import prepare_cpu_threads

prepare_cpu_threads(huge_pages=False)  # as a training process runs (applies to both)

import torch  # noqa: E402
from transformers import (AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel, Trainer,  # noqa: E402
                          TrainingArguments)
from transformers.utils import logging as hf_logging  # noqa: E402

from bench_data import GPT2_VOCAB, SHAKESPEARE, gpt2_sized_tokenizer  # noqa: E402
from hardware import hardware  # noqa: E402
from scribe.config import Paths  # noqa: E402
from scribe.training.corpus import read_corpus  # noqa: E402
from scribe.training.dataset import cached_bpe, encode_documents, split_corpus  # noqa: E402
from scribe.training.lora import add_adapters, set_base_dropout  # noqa: E402
from scribe.training.precision import PRECISIONS, uses_bfloat16  # noqa: E402
from scribe.training.trainer import TrainConfig  # noqa: E402
from scribe.training.trainer import Trainer as ScribeTrainer  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHAPES = {"tiny": {"n_layer": 2, "n_head": 2, "n_embd": 64}, "small": {"n_layer": 4, "n_head": 4, "n_embd": 256},
          "gpt2-124m": {"n_layer": 12, "n_head": 12, "n_embd": 768}}
LR, WARMUP, SEED = 3e-4, 10, 0
LORA = {"r": 8, "alpha": 16, "dropout": 0.05}


def build_model(folder: Path, shape: str, tokenizer_kind: str, context: int, cache: Path) -> int:
    """Seeded random weights of the shape with the tokenizer, saved as a model folder; returns the parameters."""
    if tokenizer_kind == "gpt2":
        tokenizer = gpt2_sized_tokenizer()
    else:
        corpus = read_corpus([SHAKESPEARE])
        tokenizer = cached_bpe(split_corpus(corpus.documents, 0.1, SEED)[0], 8192, cache)
    torch.manual_seed(SEED)
    eos = tokenizer.eos_token_id
    vocab = GPT2_VOCAB if tokenizer_kind == "gpt2" else len(tokenizer)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=vocab, n_positions=max(context, 1024), bos_token_id=eos,
                                       eos_token_id=eos, **SHAPES[shape]))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return model.num_parameters()


def run_scribe(folder: Path, work: Path, args: argparse.Namespace) -> float:
    config = TrainConfig(
        data=[str(SHAKESPEARE)], output=work / "scribe-model", job_dir=work / "job",
        mode="lora" if args.lora else "finetune", base=str(folder), context=args.context, batch_size=args.batch_size, lr=LR,
        warmup_steps=WARMUP, max_steps=args.steps, eval_every=10**9, checkpoint_every=10**9, log_every=args.steps,
        eval_tokens=args.context, sample_tokens=1, sample_temperatures=(1.0,), device=args.device, seed=SEED,
        lora_r=LORA["r"], lora_alpha=LORA["alpha"], lora_dropout=LORA["dropout"], max_memory_gb=args.max_memory,
        precision=args.precision,
    )
    finished = ScribeTrainer(config).run()
    return finished.tokens / finished.elapsed_s


def run_hf(folder: Path, work: Path, args: argparse.Namespace) -> float:
    tokenizer = AutoTokenizer.from_pretrained(folder)
    corpus = read_corpus([SHAKESPEARE])
    ids = encode_documents(split_corpus(corpus.documents, 0.1, SEED)[0], tokenizer, Paths.discover().cache).ids
    generator = torch.Generator().manual_seed(SEED)
    starts = torch.randint(0, len(ids) - args.context - 1, (args.steps * args.batch_size,), generator=generator)
    blocks = [ids[s : s + args.context].long() for s in starts.tolist()]
    dataset = [{"input_ids": b, "labels": b} for b in blocks]
    bf16 = trainer_bf16(args)
    dtype = torch.bfloat16 if bf16 and args.lora else torch.float32
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, attn_implementation="sdpa")
    if args.lora:
        set_base_dropout(model, 0.0)  # as scribe's LoRA runs do (its --dropout, default 0)
        model = add_adapters(model, **LORA)
    cuda = args.device.startswith("cuda")
    training = TrainingArguments(
        output_dir=str(work / "hf"), per_device_train_batch_size=args.batch_size, max_steps=args.steps,
        learning_rate=LR, warmup_steps=WARMUP, lr_scheduler_type="cosine", weight_decay=0.1, adam_beta2=0.95,
        max_grad_norm=1.0, logging_steps=args.steps, save_strategy="no", eval_strategy="no", report_to=[],
        use_cpu=not cuda, bf16=bf16, dataloader_num_workers=0, seed=SEED, disable_tqdm=True,
    )
    result = Trainer(model=model, args=training, train_dataset=dataset).train()
    return args.steps * args.batch_size * args.context / result.metrics["train_runtime"]


def trainer_bf16(args: argparse.Namespace) -> bool:
    """Whether the Trainer runs under bfloat16 autocast: on CUDA, or when asked."""
    return args.device.startswith("cuda") or args.trainer_bf16


def run_side(name: str, folder: Path, work: Path, args: argparse.Namespace) -> tuple[float, float]:
    """One side's run (in a child process): its tokens/s and the process's peak resident memory in MB (10^6 bytes,
    as `--max-memory` counts GB)."""
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    rate = run_scribe(folder, work, args) if name == "scribe" else run_hf(folder, work, args)
    return rate, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="small")
    parser.add_argument("--tokenizer", choices=("bpe", "gpt2"), default="bpe")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--context", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each, alternating; medians are compared")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="the device's peak (for MFU on CUDA)")
    parser.add_argument("--lora", action="store_true", help="train LoRA adapters on the frozen base, both sides")
    parser.add_argument("--max-memory", type=float, metavar="GB",
                        help="scribe's --max-memory (its micro-batches fit in it; the Trainer has no such setting)")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto", help="scribe's --precision (default auto)")
    parser.add_argument("--trainer-bf16", action="store_true",
                        help="the Trainer under bfloat16 autocast on a CPU too (with --lora: a bfloat16 base)")
    args = parser.parse_args()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        folder = work / "base"
        parameters = build_model(folder, args.shape, args.tokenizer, args.context, Paths.discover().cache)
        rates: dict[str, list[float]] = {"scribe": [], "hf": []}
        peaks: dict[str, list[float]] = {"scribe": [], "hf": []}
        spawn = multiprocessing.get_context("spawn")
        for round_ in range(args.rounds):
            order = ("scribe", "hf") if round_ % 2 else ("hf", "scribe")
            for name in order:
                with spawn.Pool(1) as pool:
                    rate, peak = pool.apply(run_side, (name, folder, work / f"{name}-{round_}", args))
                rates[name].append(rate)
                peaks[name].append(peak)
                print(f"round {round_ + 1}: {name} {rate:,.0f} tok/s, peak {peak:,.0f} MB", flush=True)
    scribe_rate, hf_rate = statistics.median(rates["scribe"]), statistics.median(rates["hf"])
    ratio = scribe_rate / hf_rate
    shape = SHAPES[args.shape]
    result: dict[str, object] = {
        "benchmark": "train_speed",
        "settings": {"shape": args.shape, **shape, "tokenizer": args.tokenizer, "parameters": parameters, "steps": args.steps,
                     "batch_size": args.batch_size, "context": args.context, "lr": LR, "warmup": WARMUP,
                     "lora": LORA if args.lora else None, "scribe_max_memory_gb": args.max_memory,
                     "scribe_precision": "bfloat16" if uses_bfloat16(args.precision, torch.device(args.device),
                                                                     "lora" if args.lora else "finetune") else "float32",
                     "trainer_precision": "bfloat16" if trainer_bf16(args) else "float32"},
        "hardware": hardware(args.device),
        "scribe_tokens_per_s": round(scribe_rate, 1),
        "hf_trainer_tokens_per_s": round(hf_rate, 1),
        "ratio_scribe_over_hf_trainer": round(ratio, 3),
        "rounds": {name: [round(r, 1) for r in values] for name, values in rates.items()},
        "peak_rss_mb": {name: round(max(values)) for name, values in peaks.items()},
    }
    if args.device.startswith("cuda"):
        flops_per_token = 6 * parameters + 12 * shape["n_layer"] * shape["n_embd"] * args.context
        result["scribe_mfu"] = round(scribe_rate * flops_per_token / (args.peak_tflops * 1e12), 4)
        result["hf_trainer_mfu"] = round(hf_rate * flops_per_token / (args.peak_tflops * 1e12), 4)
    name = (f"train_speed_{args.device.replace(':', '')}_{args.shape}_{args.tokenizer}{'_lora' if args.lora else ''}"
            f"{f'_{args.max_memory:g}gb' if args.max_memory else ''}"
            f"{f'_{args.precision}' if args.precision != 'auto' else ''}{'_trainer-bf16' if args.trainer_bf16 else ''}.json")
    out = REPO / "bench" / "results" / name
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"peak resident memory: scribe {max(peaks['scribe']):,.0f} MB, transformers Trainer {max(peaks['hf']):,.0f} MB")
    print(f"scribe {scribe_rate:,.0f} tok/s, transformers Trainer {hf_rate:,.0f} tok/s: ratio {ratio:.2f}"
          + (f"; MFU scribe {result['scribe_mfu']:.1%}, Trainer {result['hf_trainer_mfu']:.1%}" if "scribe_mfu" in result else ""))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
