"""Models offered by a short name before they are downloaded: the GPT-2 family and a few modern small base models
(SmolLM2, Qwen2.5), with known download sizes.

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
_SMOLLM2_TOKENIZER = "GPT2TokenizerFast (byte-level BPE, 49152)"
_QWEN_TOKENIZER = "Qwen2TokenizerFast (byte-level BPE, 151643)"
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
    # Modern small base models (Llama architecture: scribe's fast decode step); none of these is gated.
    KnownModel("smollm2-135m", "HuggingFaceTB/SmolLM2-135M", 269_000_000 + 3_500_000, 134_515_008, 8192,
               _SMOLLM2_TOKENIZER, "SmolLM2 135M base: tiny and quick, better prose than GPT-2 small"),
    KnownModel("smollm2-360m", "HuggingFaceTB/SmolLM2-360M", 724_000_000 + 3_500_000, 361_821_120, 8192,
               _SMOLLM2_TOKENIZER, "SmolLM2 360M base: a good first download for a laptop CPU"),
    KnownModel("smollm2-1.7b", "HuggingFaceTB/SmolLM2-1.7B", 3_420_000_000 + 3_500_000, 1_711_376_384, 8192,
               _SMOLLM2_TOKENIZER, "SmolLM2 1.7B base: fluent prose; int8 or a GPU for comfortable speed"),
    KnownModel("qwen2.5-0.5b", "Qwen/Qwen2.5-0.5B", 988_000_000 + 11_000_000, 494_032_768, 32768,
               _QWEN_TOKENIZER, "Qwen2.5 0.5B base: long context, many languages"),
    KnownModel("qwen2.5-1.5b", "Qwen/Qwen2.5-1.5B", 3_090_000_000 + 11_000_000, 1_543_714_304, 32768,
               _QWEN_TOKENIZER, "Qwen2.5 1.5B base: strong for its size, many languages"),
)


def known_model(name: str) -> KnownModel | None:
    """The offered model called `name` (short name or its repository id), or None."""
    return next((m for m in KNOWN_MODELS if name in (m.name, m.repo_id)), None)
