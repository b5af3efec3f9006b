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

    from scribe.training.corpus import Text

EOS = "<|endoftext|>"
DEFAULT_VOCAB_SIZE = 8192
DEFAULT_MAX_TRAIN_CHARS = 16_000_000
"""BPE merges settle long before 60 MB; a proportional slice of every document keeps training to well under a minute."""


def _slices(documents: Sequence["Text"], max_chars: int) -> Iterator[str]:
    """Text for tokenizer training: at most `max_chars`, the same share of every document (its beginning), a piece
    at a time (`Text.pieces`)."""
    total = sum(d.characters for d in documents)
    share = min(1.0, max_chars / total) if total else 1.0
    for doc in documents:
        left = max(1, int(doc.characters * share))
        for piece in doc.pieces():
            if left <= 0:
                break
            yield piece[:left]
            left -= len(piece)


def train_bpe(
    documents: Sequence["Text"],
    vocab_size: int = DEFAULT_VOCAB_SIZE,
    *,
    max_chars: int = DEFAULT_MAX_TRAIN_CHARS,
) -> "PreTrainedTokenizerBase":
    """Train a byte-level BPE tokenizer (GPT-2 pre-tokenisation, 256 byte symbols + merges + `<|endoftext|>`) on up
    to `max_chars` of the documents, read a piece at a time.

    The `tokenizers` library trains in one native call that nothing interrupts: once fed, it computes its merges to
    the end, and a process that wants to exit meanwhile waits for it. So the training runs in a child process (one
    `spawn`ed worker; documents on disk travel as their byte ranges) that this process waits on in 50 ms steps: a
    Ctrl-C or SIGTERM handler's exception is raised here at once and the child is killed on the way out. (`spawn`
    imports the main module in the child: a script that calls this needs the `if __name__ == "__main__":` guard.)"""
    import multiprocessing

    from transformers import GPT2Tokenizer

    if vocab_size < 257:
        raise ValueError(f"vocab size must be at least 257 (256 bytes + {EOS}), got {vocab_size}")
    with multiprocessing.get_context("spawn").Pool(1) as pool:  # leaving the block terminates the child
        pending = pool.apply_async(train_bpe_json, (list(documents), vocab_size, max_chars))
        while True:
            try:
                trained = pending.get(0.05)
                break
            except multiprocessing.TimeoutError:
                continue
    model = json.loads(trained)["model"]
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return GPT2Tokenizer(vocab=model["vocab"], merges=merges, unk_token=EOS, bos_token=EOS, eos_token=EOS)


def train_bpe_json(documents: Sequence["Text"], vocab_size: int, max_chars: int) -> str:
    """The body of `train_bpe` (run in its child process): the trained `tokenizers` tokenizer as JSON."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_slices(documents, max_chars), trainer=trainer)
    return bpe.to_str()


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
