"""Tokenizers for from-scratch training: train a byte-level BPE on a corpus, or reuse an existing tokenizer folder.

Either way the result is a GPT-2-style tokenizer (`<|endoftext|>` as bos/eos/unk) that `save_pretrained` writes as
`tokenizer.json` + `tokenizer_config.json`, loadable with `transformers.AutoTokenizer.from_pretrained(folder)`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from scribe.training.corpus import Document

EOS = "<|endoftext|>"
DEFAULT_VOCAB_SIZE = 8192
DEFAULT_MAX_TRAIN_CHARS = 16_000_000
"""BPE merges settle long before 60 MB; a proportional slice of every document keeps training to well under a minute."""


def _slices(documents: Sequence["Document"], max_chars: int, piece: int = 100_000) -> Iterator[str]:
    """Text for tokenizer training: at most `max_chars`, taken evenly across documents, in `piece`-sized strings."""
    total = sum(len(d.text) for d in documents)
    share = min(1.0, max_chars / total) if total else 1.0
    for doc in documents:
        text = doc.text[: max(1, int(len(doc.text) * share))]
        for start in range(0, len(text), piece):
            yield text[start : start + piece]


def train_bpe(
    documents: Sequence["Document"],
    vocab_size: int = DEFAULT_VOCAB_SIZE,
    *,
    max_chars: int = DEFAULT_MAX_TRAIN_CHARS,
) -> "PreTrainedTokenizerBase":
    """Train a byte-level BPE tokenizer (GPT-2 pre-tokenisation, 256 byte symbols + merges + `<|endoftext|>`)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Tokenizer

    if vocab_size < 257:
        raise ValueError(f"vocab size must be at least 257 (256 bytes + {EOS}), got {vocab_size}")
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_slices(documents, max_chars), trainer=trainer)
    model = json.loads(bpe.to_str())["model"]
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return GPT2Tokenizer(vocab=model["vocab"], merges=merges, unk_token=EOS, bos_token=EOS, eos_token=EOS)


def load_tokenizer(folder: str | Path) -> "PreTrainedTokenizerBase":
    """An existing tokenizer: any folder AutoTokenizer reads, or a bare GPT-2 `vocab.json` + `merges.txt` folder."""
    from transformers import AutoTokenizer, GPT2Tokenizer

    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"tokenizer folder not found: {folder}")
    if (folder / "tokenizer.json").exists() or (folder / "tokenizer_config.json").exists():
        tokenizer = AutoTokenizer.from_pretrained(folder)
    elif (folder / "vocab.json").exists() and (folder / "merges.txt").exists():
        tokenizer = GPT2Tokenizer.from_pretrained(folder)
    else:
        raise ValueError(f"{folder}: not a tokenizer folder (no tokenizer.json, or vocab.json + merges.txt)")
    if tokenizer.eos_token_id is None:
        raise ValueError(f"{folder}: the tokenizer has no end-of-text token")
    return tokenizer
