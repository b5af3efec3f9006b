"""The model card (`README.md`) a Keras training run writes next to its `.keras` file, in Hugging Face's format (YAML
front matter, then Markdown; see scribe/training/card.py), with the per-epoch figures of `metrics.jsonl` and a link to
their picture `curves.svg`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scribe.keras_models.trainer import KerasTrainer


def card_text(trainer: "KerasTrainer", hardware: str) -> str:
    """Markdown describing the data, vocabulary, shape, training, results and how to reload the model."""
    from scribe.keras_models.architectures import architecture
    from scribe.training.card import (LICENCE_NOTE, front_matter, held_out_text, history_lines, scored_text,
                                      without_paths)

    cfg, shape, st = trainer.config, trainer.config.shape, trainer.state
    val = st.val
    arch = architecture(cfg.arch)
    unit = "characters" if arch.tokens == "char" else "word-level tokens"
    shape_text = (f"embedding {shape.embed_dim}, {shape.layers} LSTM layer(s) of {shape.units} units"
                  if arch.recurrent else
                  f"embedding {shape.embed_dim}, {shape.layers} block(s) of {shape.heads} heads with a "
                  f"{shape.units}-wide feed-forward layer")
    vocab = (f"{len(trainer.vocab)} characters (every character of the corpus)" if arch.tokens == "char" else
             f"{len(trainer.vocab)} tokens counted by `keras.layers.TextVectorization` (padding and [UNK] first), "
             "over words, numbers, punctuation and line breaks (`scribe.keras_models.vocab.tokenize`)")
    reload = ["import keras", "", f'model = keras.saving.load_model("{cfg.name}/model.keras")']
    if not arch.recurrent:
        reload.insert(0, "import scribe.keras_models.layers  # registers PositionalEmbedding and the blocks")
    filters = []
    if trainer.top_k:
        filters.append(f"top-k {trainer.top_k}")
    if trainer.top_p < 1:
        filters.append(f"top-p {trainer.top_p:g}")
    lines = [
        f"# {cfg.name}",
        "",
        f"A `{cfg.arch}` model ({arch.description}) trained from scratch by `scribe train --arch {cfg.arch}` on "
        f"{len(trainer.corpus.documents)} plain-text file(s) of the writer's own. Keras 3 format (`model.keras`), "
        "vocabulary in `vocab.json`, shape and progress in `scribe-keras.json`.",
        "",
        LICENCE_NOTE,
        "",
        "## Results",
        "",
        "| | |",
        "|---|---|",
        f"| validation loss | {val.val_loss:.4f} nats/token |" if val else "| validation loss | not measured |",
        f"| perplexity | {val.perplexity:.2f} |" if val else "| perplexity | - |",
        f"| bits per character | {val.bits_per_char:.4f} |" if val else "| bits per character | - |",
        f"| last training loss | {st.train_loss:.4f} nats/token |" if st.train_loss is not None
        else "| last training loss | - |",
        f"| steps | {st.step:,} of at most {cfg.max_steps:,} ({trainer.eval_every:,} per epoch) |",
        f"| tokens seen | {st.tokens:,} |",
        f"| wall time | {st.elapsed_s / 60:.1f} min |",
        f"| hardware | {hardware} |",
        "",
        held_out_text(trainer.corpus.documents, trainer.val_documents, holdout=False, val_fraction=cfg.val_fraction,
                      seed=cfg.seed) + " " + scored_text(trainer.val_tokens, trainer.val_chars, trainer.val_whole, unit)
        + f" `model.fit` runs this validation pass after every epoch, in consecutive windows of up to "
        f"{shape.sequence_length} {unit}.",
        *history_lines(st.history),
        "",
        "## Model",
        "",
        f"- preset `{cfg.preset}`: {shape_text}; {trainer.model.count_params():,} parameters",
        f"- vocabulary: {vocab}",
        f"- training: `model.fit` on a `tf.data` pipeline of windows of {shape.sequence_length} tokens shifted by one "
        f"for the targets, batch {shape.batch_size}, {arch.optimizer} at learning rate {shape.lr:g}, dropout "
        f"{shape.dropout:g}, sparse categorical cross-entropy, seed {cfg.seed}",
        "",
        "## Reload in plain Keras",
        "",
        "```python",
        *reload,
        "```",
    ]
    if cfg.command:
        lines += ["", "## Reproduce", "", "```", without_paths(cfg.command), "```"]
    if st.samples:
        lines += ["", f"## Samples at step {st.samples[0].step}", "",
                  f"Prompt {cfg.sample_prompt!r}, {', '.join(filters) or 'pure sampling (no top-k/top-p)'}, "
                  f"seed {cfg.seed}.", ""]
        for s in st.samples:
            lines += [f"temperature {s.temperature:g}:", "", "> " + (s.prompt + s.text).replace("\n", "\n> "), ""]
    return front_matter("keras") + "\n".join(lines) + "\n"


def write_card(path: Path, trainer: "KerasTrainer", hardware: str) -> None:
    """Write the card to `path`."""
    path.write_text(card_text(trainer, hardware), encoding="utf-8")
