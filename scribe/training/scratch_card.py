"""The model card (`README.md`) a from-scratch training run writes next to its weights."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scribe.training.scratch import ScratchTrainer


def _size(n: int) -> str:
    if n < 1000:
        return f"{n} B"
    for unit in ("KB", "MB"):
        n /= 1000
        if n < 1000:
            return f"{n:.1f} {unit}"
    return f"{n / 1000:.1f} GB"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"


def card_text(trainer: "ScratchTrainer", hardware: str) -> str:
    """Markdown describing the data, tokenizer, shape, training and results of the run so far."""
    cfg, m, corpus, model = trainer.config, trainer.metrics, trainer.corpus, trainer.model
    mc = model.config
    files = [(d.path, d.path.stat().st_size) for d in corpus.documents]
    tokenizer = (
        f"byte-level BPE trained on this corpus, {len(trainer.tokenizer)} tokens"
        if cfg.tokenizer == "train"
        else f"reused from `{cfg.tokenizer}`, {len(trainer.tokenizer)} tokens"
    )
    val = m.val
    lines = [
        f"# {cfg.name}",
        "",
        f"A GPT-2-architecture language model trained from scratch by `scribe train` on {len(files)} plain-text "
        f"file(s) ({_size(sum(s for _, s in files))}). Hugging Face format: loads with "
        "`transformers.AutoModelForCausalLM.from_pretrained` and `AutoTokenizer.from_pretrained`.",
        "",
        "## Results",
        "",
        "| | |",
        "|---|---|",
        f"| validation loss | {val.val_loss:.4f} nats/token |" if val else "| validation loss | not measured |",
        f"| perplexity | {val.perplexity:.2f} |" if val else "| perplexity | - |",
        f"| bits per character | {val.bits_per_char:.4f} |" if val else "| bits per character | - |",
        f"| last training loss | {m.train_loss:.4f} nats/token |" if m.train_loss is not None else "| last training loss | - |",
        f"| steps | {m.step:,} of at most {cfg.max_steps:,} |",
        f"| tokens seen | {m.tokens:,} |",
        f"| wall time | {_minutes(m.elapsed_s)}" + (f" (budget {cfg.max_minutes:g} min) |" if cfg.max_minutes else " |"),
        f"| hardware | {hardware} |",
        "",
        f"Validation: {trainer.val_tokens - 1:,} held-out tokens ({trainer.val_chars:,} characters) from whole "
        f"documents never trained on (about {cfg.val_fraction:.0%} of the text, seed {cfg.seed}). Bits per character "
        "= total validation nats / validation characters / ln 2.",
        "",
        "## Model",
        "",
        f"- shape: preset `{cfg.preset}`: {mc.n_layer} layers, {mc.n_head} heads, {mc.n_embd} embedding width, "
        f"context {mc.n_positions} tokens; {model.num_parameters():,} parameters (embeddings tied)",
        f"- tokenizer: {tokenizer}; `<|endoftext|>` separates documents",
        f"- training: {trainer.train_tokens:,} tokens; AdamW (betas 0.9, 0.95, weight decay {cfg.weight_decay}), peak "
        f"learning rate {cfg.lr:g}, {cfg.warmup_steps} warmup steps then cosine to {cfg.lr * cfg.min_lr_ratio:g}, "
        f"gradient clip {cfg.grad_clip}, batch {cfg.batch_size} x {cfg.context} tokens, no dropout, seed {cfg.seed}",
        "- generation defaults (`generation_config.json`): sampling, temperature 0.8, top-k 40, top-p 0.95, "
        "repetition penalty 1.1",
    ]
    if cfg.command:
        lines += ["", "## Reproduce", "", "```", cfg.command, "```"]
    if m.samples:
        lines += ["", f"## Samples at step {m.step}", "",
                  f"Prompt {m.samples[0].prompt!r}, pure sampling (no top-k/top-p), seed {cfg.seed}.", ""]
        for s in m.samples:
            lines += [f"temperature {s.temperature:g}:", "", "> " + (s.prompt + s.text).replace("\n", "\n> "), ""]
    lines += ["", "## Data", "", "<details><summary>files</summary>", ""]
    lines += [f"- `{path}` ({_size(size)})" for path, size in files]
    lines += ["", "</details>", ""]
    if corpus.skipped:
        lines += ["Skipped:", ""] + [f"- `{s.path}`: {s.reason}" for s in corpus.skipped] + [""]
    return "\n".join(lines)


def write_card(path: Path, trainer: "ScratchTrainer", hardware: str) -> None:
    """Write the card to `path`."""
    path.write_text(card_text(trainer, hardware), encoding="utf-8")
