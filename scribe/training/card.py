"""The model card (`README.md`) written with every model the trainer saves: Hugging Face's format (YAML front matter
made by huggingface_hub's `ModelCardData`, then Markdown), so the folder can be pushed to the Hub as it is.

Local paths are not published: data files and a base model folder are named by their file or folder name, and the
command that made the model loses the folders of its paths. The licence is left to the writer to add.
"""

from __future__ import annotations

import os
import platform
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from scribe.training.curves import CURVE_FILE, METRICS_FILE

if TYPE_CHECKING:
    import torch

    from scribe.training.corpus import Text
    from scribe.training.events import Eval
    from scribe.training.trainer import Trainer


def hardware(device: "torch.device", processes: int) -> str:
    """The device (GPU name, or CPU model and torch threads), the number of processes and the torch version."""
    import torch

    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        return f"{processes} x {name}, torch {torch.__version__}" if processes > 1 else f"{name}, torch {torch.__version__}"
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {torch.get_num_threads()} torch threads of {os.cpu_count()} CPUs"
            + (f", {processes} processes" if processes > 1 else "") + f", torch {torch.__version__}")


def front_matter(library: str, base_model: str | None = None) -> str:
    """The card's YAML front matter (between `---` lines): library, pipeline and, when it is a Hub model, the base."""
    from huggingface_hub import ModelCardData

    data = ModelCardData(library_name=library, pipeline_tag="text-generation", tags=["scribe", "own-text"],
                         base_model=base_model)
    return f"---\n{data.to_yaml()}\n---\n\n"


def is_local(name: str) -> bool:
    """True when `name` is a path on this machine rather than a Hub repository id."""
    return name.startswith(("/", "~", ".")) or Path(name).expanduser().exists()


def public_name(name: str) -> str:
    """A Hub id as it is; a local path as its last part."""
    return Path(name).expanduser().name if is_local(name) else name


def without_paths(command: str) -> str:
    """`command` with each local path replaced by its last part."""
    try:
        words = shlex.split(command)
    except ValueError:
        return command
    return shlex.join(public_name(word) if not word.startswith("-") else word for word in words)


LICENCE_NOTE = ("Licence: not chosen. Before publishing, add `license:` to the front matter, compatible with the "
                "licences of the texts trained on.")


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"


def history_lines(history: list[dict]) -> list[str]:
    """The card's "Training curve" section: the picture, then a table of every evaluation in `history` (the records
    of `metrics.jsonl`; none: no lines)."""
    if not history:
        return []
    epochs = all("epoch" in r for r in history)
    lines = ["", "## Training curve", "",
             f"![training and validation loss, validation perplexity]({CURVE_FILE})", "",
             f"Every evaluation's figures and samples are in `{METRICS_FILE}` (one JSON object each).", "",
             "| epoch " * epochs + "| step | training loss | validation loss | perplexity | bits/char |",
             "|---:" * epochs + "|---:|---:|---:|---:|---:|"]
    for r in history:
        train = f"{r['train_loss']:.4f}" if r.get("train_loss") is not None else "-"
        bpc = f"{r['bits_per_char']:.4f}" if r.get("bits_per_char") is not None else "-"
        epoch = f"| {r['epoch']} " if epochs else ""
        lines.append(f"{epoch}| {r['step']:,} | {train} | {r['val_loss']:.4f} | {r['perplexity']:.2f} | {bpc} |")
    return lines


def _names(documents: Sequence["Text"]) -> str:
    return ", ".join(f"`{name}`" for name in dict.fromkeys(d.path.name for d in documents))


def held_out_text(documents: Sequence["Text"], held: Sequence["Text"], *, holdout: bool,
                  val_fraction: float, seed: int) -> str:
    """What was held out for validation, exactly: the `--holdout` files; or the whole files the seeded split chose
    (`scribe.training.dataset.split_documents`); or, from a single file, the stretches between paragraph breaks it
    chose (`split_corpus`). `documents` is the whole corpus, `held` the validation documents."""
    chars = sum(d.characters for d in held)
    if holdout:
        return (f"Held out: the file(s) given with `--holdout`, {_names(held)} ({chars:,} characters), whole and never "
                "trained on.")
    total = sum(d.characters for d in documents) or 1
    share = f"{chars:,} characters, {chars / total:.1%} of the text"
    if len(documents) == 1:
        return (f"Held out: {len(held)} stretch(es) of {_names(documents)} ({share}), never trained on: the file was "
                f"cut into chunks at paragraph breaks and chunks chosen with seed {seed} until about "
                f"{val_fraction:.0%} of it was held out (`--val-fraction`).")
    return (f"Held out: {len(held)} of the {len(documents)} files, {_names(held)} ({share}), whole and never trained "
            f"on, chosen with seed {seed} until about {val_fraction:.0%} of the text was held out (`--val-fraction`).")


def scored_text(tokens: int, chars: int, whole: bool, unit: str = "tokens") -> str:
    """Which part of the held-out text each evaluation scores: all of it (`whole`), or its first `tokens`."""
    part = f"all {tokens:,} {unit}" if whole else f"the first {tokens:,} {unit}"
    return f"Each evaluation scores {part} ({chars:,} characters) of it."


def card_text(trainer: "Trainer", final: "Eval | None", model: "torch.nn.Module") -> str:
    """Markdown: what was trained on what, how, and the results."""
    cfg, st, data = trainer.config, trainer.state, trainer.data
    base = st.base_eval
    base_name = public_name(cfg.base) if cfg.base else None
    what = {
        "scratch": f"trained from scratch (preset `{cfg.preset}`)",
        "finetune": f"fully fine-tuned from `{base_name}`",
        "lora": f"fine-tuned from `{base_name}` with LoRA (r={cfg.lora_r}, alpha={cfg.lora_alpha}, dropout "
                f"{cfg.lora_dropout:g}, base dropout {cfg.dropout:g}; adapters merged into the weights)",
    }[cfg.mode]
    files = [(d.path.name, d.path.stat().st_size if d.path.exists() else 0, d.encoding) for d in data.corpus.documents]
    parameters = sum(p.numel() for p in model.parameters())
    lines = [
        f"# {cfg.name}",
        "",
        f"A causal language model {what} by scribe on {len(files)} text file(s) of the writer's own. Hugging Face "
        "format: loads with `transformers.AutoModelForCausalLM.from_pretrained` and `AutoTokenizer.from_pretrained`.",
        "",
        LICENCE_NOTE,
        "",
        "## Results",
        "",
        "| | |",
        "|---|---|",
        f"| base model | {base_name or 'none (from scratch)'} |",
        f"| validation loss | {final.val_loss:.4f} nats/token (step {final.step}) |" if final else "| validation loss | - |",
        f"| perplexity | {final.perplexity:.2f} |" if final else "| perplexity | - |",
        f"| bits per character | {final.bits_per_char:.4f} |" if final else "| bits per character | - |",
    ]
    if base:
        lines.append(f"| base model on the same validation text | loss {base['val_loss']:.4f}, perplexity "
                     f"{base['perplexity']:.2f}, {base['bits_per_char']:.4f} bits/char |")
    lines += [
        f"| steps | {st.step:,} of at most {cfg.max_steps:,} |",
        f"| tokens trained on | {st.tokens:,} |",
        f"| wall time | {_duration(st.elapsed_s)} |",
        f"| hardware | {hardware(trainer.device, trainer.ranks.world)} |",
        "",
        held_out_text(data.corpus.documents, data.val_documents, holdout=bool(cfg.holdout),
                      val_fraction=cfg.val_fraction, seed=cfg.seed) + " "
        + scored_text(len(data.val) - 1, data.val_chars, whole=len(data.val) - 1 < cfg.eval_tokens)
        + " Perplexity = exp(validation loss); bits per character = total nats / characters / ln 2.",
        *history_lines(st.history),
        "",
        "## Training",
        "",
        f"- {parameters:,} parameters ({'LoRA adapters trained' if cfg.mode == 'lora' else 'all trained'}); "
        f"context {cfg.context} tokens; tokenizer with {len(data.tokenizer):,} tokens",
        f"- {len(data.train):,} training tokens; batch {cfg.batch_size} x {cfg.context} tokens"
        + (f" in {cfg.grad_accum} micro-batches" if cfg.grad_accum > 1 else "")
        + f"; AdamW (betas 0.9, 0.95, weight decay {cfg.weight_decay}), peak learning rate {cfg.lr:g}, "
        f"{cfg.warmup_steps} warmup steps then cosine to {(cfg.lr or 0) * cfg.min_lr_ratio:g}, gradient clip "
        f"{cfg.grad_clip}, seed {cfg.seed}"
        + (f", early stopping after {cfg.patience} evaluations without improvement" if cfg.patience else ""),
        _arithmetic(trainer.autocast, cfg.mode),
    ]
    if cfg.command:
        lines += ["", "## Reproduce", "", "```", without_paths(cfg.command), "```"]
    lines += ["", "## Data", ""] + [f"- `{path}` ({size:,} bytes, {encoding})" for path, size, encoding in files]
    if data.corpus.skipped:
        lines += ["", "Skipped:", ""] + [f"- `{s.path.name}`: {s.reason}" for s in data.corpus.skipped]
    hub_base = cfg.base if cfg.base and not is_local(cfg.base) else None
    return front_matter("transformers", hub_base) + "\n".join(lines) + "\n"


def _arithmetic(bfloat16: bool, mode: str) -> str:
    """The card's line on the run's precision."""
    if not bfloat16:
        return "- float32 arithmetic"
    base = "; the frozen base loaded in bfloat16, the adapters merged into its own precision" if mode == "lora" else ""
    return f"- bfloat16 arithmetic (autocast), the trained weights kept in float32{base}"


def write_card(path: Path, trainer: "Trainer", final: "Eval | None", model: "torch.nn.Module") -> None:
    """Write the card to `path`."""
    path.write_text(card_text(trainer, final, model), encoding="utf-8")
