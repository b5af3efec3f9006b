"""The model card (`README.md`) a Keras training run writes next to its `.keras` file, in Hugging Face's format (YAML
front matter, then Markdown; see scribe/training/card.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scribe.keras_models.trainer import KerasTrainer


def card_text(trainer: "KerasTrainer", hardware: str) -> str:
    """Markdown describing the data, vocabulary, shape, training, results and how to reload the model."""
    from scribe.keras_models.architectures import architecture
    from scribe.training.card import LICENCE_NOTE, front_matter, without_paths

    cfg, shape, val = trainer.config, trainer.config.shape, trainer.val
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
        f"| last training loss | {trainer.train_loss:.4f} nats/token |" if trainer.train_loss is not None
        else "| last training loss | - |",
        f"| steps | {trainer.step:,} of at most {cfg.max_steps:,} |",
        f"| tokens seen | {trainer.tokens:,} |",
        f"| wall time | {trainer.elapsed_s / 60:.1f} min |",
        f"| hardware | {hardware} |",
        "",
        f"Validation: {trainer.val_tokens - 1:,} held-out {unit} from text never trained on.",
        "",
        "## Model",
        "",
        f"- preset `{cfg.preset}`: {shape_text}; {trainer.model.count_params():,} parameters",
        f"- vocabulary: {vocab}",
        f"- training: windows of {shape.sequence_length} tokens, batch {shape.batch_size}, {arch.optimizer} at "
        f"learning rate {shape.lr:g}, dropout {shape.dropout:g}, sparse categorical cross-entropy, seed {cfg.seed}",
        "",
        "## Reload in plain Keras",
        "",
        "```python",
        *reload,
        "```",
    ]
    if cfg.command:
        lines += ["", "## Reproduce", "", "```", without_paths(cfg.command), "```"]
    if trainer.samples:
        lines += ["", f"## Samples at step {trainer.step}", "",
                  f"Prompt {cfg.sample_prompt!r}, pure sampling (no top-k/top-p), seed {cfg.seed}.", ""]
        for s in trainer.samples:
            lines += [f"temperature {s.temperature:g}:", "", "> " + (s.prompt + s.text).replace("\n", "\n> "), ""]
    return front_matter("keras") + "\n".join(lines) + "\n"


def write_card(path: Path, trainer: "KerasTrainer", hardware: str) -> None:
    """Write the card to `path`."""
    path.write_text(card_text(trainer, hardware), encoding="utf-8")
