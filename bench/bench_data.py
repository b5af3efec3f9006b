"""What the benchmarks read, all inside the repository: Tiny Shakespeare from `tests/data/`, and a tokenizer the size
of GPT-2's built from it by scribe's own BPE trainer (the real GPT-2 tokenizer is not shipped with scribe)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

REPO = Path(__file__).resolve().parents[1]
SHAKESPEARE = REPO / "tests" / "data" / "tinyshakespeare.txt"
"""Tiny Shakespeare: 1,115,394 bytes of public-domain text."""
GPT2_VOCAB = 50_257


def gpt2_sized_tokenizer() -> "PreTrainedTokenizerBase":
    """scribe's byte-level BPE (GPT-2's pre-tokenisation, `<|endoftext|>`) trained on all of Tiny Shakespeare, asked for
    GPT-2's 50,257 tokens; the text runs out of merges at about 21,500. The benchmarks' GPT-2-shaped models keep
    GPT-2's 50,257-row embedding and output head, so the work per token is GPT-2's; the tokenizer only encodes the
    prompt and decodes the output (a sampled id past its vocabulary decodes to nothing)."""
    from scribe.training.bpe import train_bpe
    from scribe.training.corpus import read_corpus

    return train_bpe(read_corpus([SHAKESPEARE]).documents, vocab_size=GPT2_VOCAB)
