"""Models offered by a short name before they are downloaded: the GPT-2 family, with known download sizes.

The sizes are the Hugging Face repositories' published file sizes for what `scribe models pull` fetches (safetensors
weights plus tokenizer and config files), rounded; they are known in advance, not measured, and the list shows them
as such.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KnownModel:
    """A model offered by name: the repository it comes from and what it costs to fetch."""

    name: str
    repo_id: str
    download_bytes: int
    """Approximate bytes `pull` fetches (weights, tokenizer, config)."""
    parameters: int
    context_length: int
    tokenizer: str
    description: str


_GPT2_TOKENIZER = "GPT2Tokenizer (byte-level BPE, 50257)"
_TOKENIZER_AND_CONFIG = 2_900_000  # tokenizer.json, vocab.json, merges.txt, config files

KNOWN_MODELS: tuple[KnownModel, ...] = (
    KnownModel("distilgpt2", "distilbert/distilgpt2", 353_000_000 + _TOKENIZER_AND_CONFIG, 81_912_576, 1024,
               _GPT2_TOKENIZER, "GPT-2 distilled to 6 layers: the fastest, the roughest"),
    KnownModel("gpt2", "openai-community/gpt2", 548_000_000 + _TOKENIZER_AND_CONFIG, 124_439_808, 1024,
               _GPT2_TOKENIZER, "GPT-2 small, 12 layers"),
    KnownModel("gpt2-medium", "openai-community/gpt2-medium", 1_520_000_000 + _TOKENIZER_AND_CONFIG, 354_823_168, 1024,
               _GPT2_TOKENIZER, "GPT-2 medium, 24 layers"),
    KnownModel("gpt2-large", "openai-community/gpt2-large", 3_250_000_000 + _TOKENIZER_AND_CONFIG, 774_030_080, 1024,
               _GPT2_TOKENIZER, "GPT-2 large, 36 layers"),
    KnownModel("gpt2-xl", "openai-community/gpt2-xl", 6_430_000_000 + _TOKENIZER_AND_CONFIG, 1_557_611_200, 1024,
               _GPT2_TOKENIZER, "GPT-2 XL, 48 layers: needs about 7 GB of memory in float32"),
)


def known_model(name: str) -> KnownModel | None:
    """The offered model called `name` (short name or its repository id), or None."""
    return next((m for m in KNOWN_MODELS if name in (m.name, m.repo_id)), None)
