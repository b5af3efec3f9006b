"""Training data: the train/validation split, tokenizers made for a corpus, and the token cache.

The split holds out whole documents chosen with a fixed seed; a single file is first cut into chunks at paragraph
breaks, and chunks are held out instead (adjacent chunks on the same side are joined again, so no end-of-text token
interrupts running text). Tokens are cached under `Paths.cache / "tokens"`, one file per document, keyed by the hash of
the document's text and the tokenizer's own fingerprint: a second run on unchanged files does not tokenise again.
Trained BPE tokenizers are cached the same way, keyed by their training text and vocabulary size.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from scribe.files import atomic_write, replace_folder
from scribe.training.bpe import EOS, train_bpe
from scribe.training.corpus import Document, set_stage

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

CHUNKS_PER_FILE = 200
"""A single file is cut into about this many chunks for the split (never smaller than MIN_CHUNK_CHARS)."""
MIN_CHUNK_CHARS = 2000
_BOUNDARIES = (re.compile(r"\n\n"), re.compile(r"\n"), re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*\s"), re.compile(r"\s"))
"""Where a chunk may end, best first: a paragraph break, a line break, a sentence end, a space."""


def chunk_document(doc: Document, target_chars: int) -> list[Document]:
    """`doc` cut into pieces of at least `target_chars` (the last may be shorter), each ending at the first paragraph
    break within four times the target, else a line break, else a sentence end, else a space there (a corpus of one
    very long line is cut too); a text with no space at all is cut at four times the target."""
    text, pieces, pos = doc.text, [], 0
    while pos < len(text):
        end, limit = pos + target_chars, pos + 4 * target_chars
        if end >= len(text):
            cut = len(text)
        else:
            found = (pattern.search(text, end, limit) for pattern in _BOUNDARIES)
            cut = next((m.end() for m in found if m is not None), min(limit, len(text)))
        pieces.append(replace(doc, text=text[pos:cut]))
        pos = cut
    return pieces


def split_documents(documents: Sequence[Document], fraction: float, seed: int) -> tuple[list[Document], list[Document]]:
    """(train, validation) of two or more documents: whole documents, taken in a seeded order (those no bigger than
    twice the target first) until about `fraction` of the text is held out; at least one is always trained on."""
    target = sum(len(d.text) for d in documents) * fraction
    order = list(range(len(documents)))
    random.Random(seed).shuffle(order)
    rank = {i: r for r, i in enumerate(order)}
    held: set[int] = set()
    held_chars = 0
    for i in sorted(order, key=lambda i: (len(documents[i].text) > 2 * target, rank[i])):
        if held_chars >= target or len(held) == len(documents) - 1:
            break
        held.add(i)
        held_chars += len(documents[i].text)
    return [d for i, d in enumerate(documents) if i not in held], [d for i, d in enumerate(documents) if i in held]


def split_corpus(documents: Sequence[Document], fraction: float, seed: int) -> tuple[list[Document], list[Document]]:
    """(train, validation) with about `fraction` of the text held out, the same for the same seed and files."""
    if len(documents) > 1:
        return split_documents(documents, fraction, seed)
    [doc] = documents
    chunks = chunk_document(doc, max(MIN_CHUNK_CHARS, len(doc.text) // CHUNKS_PER_FILE))
    if len(chunks) < 2:
        raise ValueError(f"{doc.path}: too little text to hold out a validation part ({len(doc.text)} characters)")
    train, val = split_documents(chunks, fraction, seed)
    held = {id(c) for c in val}
    return _joined(chunks, lambda c: id(c) not in held), _joined(chunks, lambda c: id(c) in held)


def _joined(chunks: list[Document], keep) -> list[Document]:  # noqa: ANN001 - a predicate on Document
    """Runs of consecutive chunks that `keep` accepts, each run as one Document."""
    runs: list[list[Document]] = []
    previous = False
    for chunk in chunks:
        kept = keep(chunk)
        if kept:
            if previous:
                runs[-1].append(chunk)
            else:
                runs.append([chunk])
        previous = kept
    return [replace(run[0], text="".join(c.text for c in run)) for run in runs]


def char_tokenizer(documents: Sequence[Document]) -> "PreTrainedTokenizerBase":
    """A character-level tokenizer over every character of `documents` plus `<|endoftext|>` (also used for unknown
    characters); saved as tokenizer.json, it loads with `AutoTokenizer.from_pretrained`."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    chars = sorted(set().union(*(set(d.text) for d in documents)))
    vocab = {EOS: 0, **{c: i + 1 for i, c in enumerate(chars)}}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=EOS))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    backend.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=backend, eos_token=EOS, bos_token=EOS, unk_token=EOS)


def tokenizer_fingerprint(tokenizer: "PreTrainedTokenizerBase") -> str:
    """A hash of everything that decides how the tokenizer splits text (its serialised backend, or its vocabulary)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    spec = backend.to_str() if backend is not None else repr(sorted(tokenizer.get_vocab().items()))
    return hashlib.sha256(f"{type(tokenizer).__name__}\n{spec}".encode()).hexdigest()[:24]


def text_hash(text: str) -> str:
    """The cache key part for a piece of text."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def cached_bpe(documents: Sequence[Document], vocab_size: int, cache: Path) -> "PreTrainedTokenizerBase":
    """`train_bpe(documents, vocab_size)`, reused from `cache / "tokenizers"` when the same text trained one before."""
    from scribe.training.bpe import load_tokenizer

    key = hashlib.sha256(f"bpe {vocab_size}\n".encode() + "".join(text_hash(d.text) for d in documents).encode())
    folder = cache / "tokenizers" / key.hexdigest()[:32]
    if (folder / "tokenizer.json").exists():
        return load_tokenizer(folder)
    set_stage(f"training a tokenizer of {vocab_size:,} tokens")
    tokenizer = train_bpe(documents, vocab_size)
    try:
        replace_folder(folder, tokenizer.save_pretrained)
    except OSError:  # the cache cannot be written: only slower next time
        pass
    return tokenizer


@dataclass
class Encoded:
    """A token stream and how much of it came from the cache."""

    ids: "torch.Tensor"
    cached: int
    """Documents whose tokens were read from the cache."""
    tokenized: int
    """Documents tokenised in this call (and now cached)."""


def encode_documents(documents: Sequence[Document], tokenizer: "PreTrainedTokenizerBase", cache: Path | None) -> Encoded:
    """All documents as one int32 token stream, each followed by the end-of-text token; per-document tokens come
    from, and go to, `cache / "tokens"` (no caching when `cache` is None)."""
    import numpy as np
    import torch

    eos = tokenizer.eos_token_id
    folder = cache / "tokens" / tokenizer_fingerprint(tokenizer) if cache is not None else None
    parts, hits, misses = [], 0, 0
    total, done = sum(len(d.text) for d in documents), 0
    for doc in documents:
        path = folder / f"{text_hash(doc.text)}.npy" if folder is not None else None
        ids = _read_tokens(path) if path is not None else None
        if ids is None:
            ids = np.fromiter(_tokenize(doc.text, tokenizer, done, total), dtype=np.int32)
            misses += 1
            if path is not None:
                _write_tokens(path, ids)
        else:
            hits += 1
        done += len(doc.text)
        set_stage(f"tokenised {done / 1e6:,.1f} of {total / 1e6:,.1f} million characters")
        parts += [ids, np.array([eos], dtype=np.int32)]
    stream = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
    return Encoded(torch.from_numpy(stream), hits, misses)


def _tokenize(text: str, tokenizer: "PreTrainedTokenizerBase", done: int, total: int, piece: int = 200_000):
    """Token ids of `text`, tokenised in pieces of about `piece` characters cut after a line break, else before a
    space (where a byte-level BPE starts a word anyway), so that progress is reported (`done` of `total` characters
    before this text) and a cancel is honoured between pieces."""
    pos = 0
    while pos < len(text):
        set_stage(f"tokenising: {(done + pos) / 1e6:,.1f} of {total / 1e6:,.1f} million characters")
        start, limit = pos + piece, pos + 2 * piece
        line, space = text.find("\n", start, limit), text.find(" ", start, limit)
        end = len(text) if start >= len(text) else line + 1 if line >= 0 else space if space >= 0 else limit
        yield from tokenizer(text[pos:end], add_special_tokens=False)["input_ids"]
        pos = end


def _read_tokens(path: Path):  # noqa: ANN202 - numpy array or None
    import numpy as np

    try:
        return np.load(path, allow_pickle=False).astype(np.int32, copy=False)
    except (OSError, ValueError):
        return None


def _write_tokens(path: Path, ids) -> None:  # noqa: ANN001 - numpy array
    """Write atomically; a cache that cannot be written is only slower next time."""
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, ids, allow_pickle=False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, buffer.getvalue())
    except OSError:
        pass
