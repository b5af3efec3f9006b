"""The model card (`README.md`) written with every model the trainer saves."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

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


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"


def card_text(trainer: "Trainer", final: "Eval | None", model: "torch.nn.Module") -> str:
    """Markdown: what was trained on what, how, and the results."""
    cfg, st, data = trainer.config, trainer.state, trainer.data
    base = st.base_eval
    what = {
        "scratch": f"trained from scratch (preset `{cfg.preset}`)",
        "finetune": f"fully fine-tuned from `{cfg.base}`",
        "lora": f"fine-tuned from `{cfg.base}` with LoRA (r={cfg.lora_r}, alpha={cfg.lora_alpha}; adapters merged "
                "into the weights)",
    }[cfg.mode]
    files = [(d.path, d.path.stat().st_size if d.path.exists() else 0) for d in data.corpus.documents]
    parameters = sum(p.numel() for p in model.parameters())
    lines = [
        f"# {cfg.name}",
        "",
        f"A causal language model {what} by scribe on {len(files)} text file(s). Hugging Face format: loads with "
        "`transformers.AutoModelForCausalLM.from_pretrained` and `AutoTokenizer.from_pretrained`.",
        "",
        "## Results",
        "",
        "| | |",
        "|---|---|",
        f"| base model | {cfg.base or 'none (from scratch)'} |",
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
        f"Validation: {len(data.val) - 1:,} tokens ({data.val_chars:,} characters) held out by document (by "
        f"paragraph-aligned chunk for a single file), about {cfg.val_fraction:.0%} of the text, seed {cfg.seed}. "
        "Perplexity = exp(validation loss); bits per character = total nats / characters / ln 2.",
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
    ]
    if cfg.command:
        lines += ["", "## Reproduce", "", "```", cfg.command, "```"]
    lines += ["", "## Data", ""] + [f"- `{path}` ({size:,} bytes)" for path, size in files]
    if data.corpus.skipped:
        lines += ["", "Skipped:", ""] + [f"- `{s.path}`: {s.reason}" for s in data.corpus.skipped]
    return "\n".join(lines) + "\n"


def write_card(path: Path, trainer: "Trainer", final: "Eval | None", model: "torch.nn.Module") -> None:
    """Write the card to `path`."""
    path.write_text(card_text(trainer, final, model), encoding="utf-8")
