"""Training data: the train/validation split, tokenizers made for a corpus, and the token cache.

The split holds out whole documents chosen with a fixed seed; a single file is first cut into chunks at paragraph
breaks, and chunks are held out instead (adjacent chunks on the same side are joined again, so no end-of-text token
interrupts running text). Tokens are cached under `Paths.cache / "tokens"`, one file per document, keyed by the hash of
the document's text and the tokenizer's own fingerprint: a second run on unchanged files does not tokenise again.
Trained BPE tokenizers are cached the same way, keyed by their training text and vocabulary size.

Everything here works on documents in memory (`Document`) and on disk (`StoredDocument`) alike, a piece at a time:
tokens are written to their cache file as they come and the stream is assembled from those files into one array, so
preparing a corpus needs about the memory of its token array, whatever its size.
"""

from __future__ import annotations

import hashlib
import random
import re
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterable, Iterator, Sequence, TypeVar, cast

from scribe.files import atomic_writer, replace_folder
from scribe.training.allocator import release_free_memory
from scribe.training.bpe import EOS, train_bpe
from scribe.training.corpus import (
    PIECE_CHARS,
    Document,
    StoredDocument,
    Text,
    character_count,
    cut_everywhere,
    cut_pieces,
    set_stage,
)

if TYPE_CHECKING:
    import numpy as np
    import torch
    from transformers import PreTrainedTokenizerBase

CHUNKS_PER_FILE = 200
"""A single file is cut into about this many chunks for the split (never smaller than MIN_CHUNK_CHARS)."""
MIN_CHUNK_CHARS = 2000
_BOUNDARIES = (re.compile(r"\n\n"), re.compile(r"\n"), re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*\s"), re.compile(r"\s"))
"""Where a chunk may end, best first: a paragraph break, a line break, a sentence end, a space."""


T = TypeVar("T", Document, StoredDocument)


def chunk_document(doc: T, target_chars: int) -> list[T]:
    """`doc` cut into pieces of at least `target_chars` (the last may be shorter), each ending at the first paragraph
    break within four times the target, else a line break, else a sentence end, else a space there (a corpus of one
    very long line is cut too); a text with no space at all is cut at four times the target. Read a piece at a time:
    no more than about five times the target is held."""
    chunks: list[T] = []
    byte = doc.start if isinstance(doc, StoredDocument) else 0
    for text in _chunk_texts(doc.pieces(), doc.characters, target_chars):
        if isinstance(doc, StoredDocument):
            size = len(text.encode("utf-8", "surrogatepass"))
            chunks.append(cast(T, doc.span(byte, byte + size, len(text))))
            byte += size
        else:
            chunks.append(replace(doc, text=text))
    return chunks


def _chunk_texts(pieces: Iterator[str], total: int, target: int) -> Iterator[str]:
    """The texts of `chunk_document`, from the document's text given in pieces (`total` characters in all)."""
    window, pos, offset = "", 0, 0  # window holds the text from character `offset` on; chunks start at `pos`
    for piece in pieces:
        window += piece
        while offset + len(window) >= min(total, pos + 4 * target) and pos < total:
            end, limit = pos + target, pos + 4 * target
            if end >= total:
                cut = total
            else:
                found = (pattern.search(window, end - offset, limit - offset) for pattern in _BOUNDARIES)
                cut = next((offset + m.end() for m in found if m is not None), min(limit, total))
            yield window[pos - offset: cut - offset]
            window, offset, pos = window[cut - offset:], cut, cut


def split_documents(documents: Sequence[T], fraction: float, seed: int) -> tuple[list[T], list[T]]:
    """(train, validation) of two or more documents: whole documents, taken in a seeded order (those no bigger than
    twice the target first) until about `fraction` of the text is held out; at least one is always trained on."""
    target = sum(d.characters for d in documents) * fraction
    order = list(range(len(documents)))
    random.Random(seed).shuffle(order)
    rank = {i: r for r, i in enumerate(order)}
    held: set[int] = set()
    held_chars = 0
    for i in sorted(order, key=lambda i: (documents[i].characters > 2 * target, rank[i])):
        if held_chars >= target or len(held) == len(documents) - 1:
            break
        held.add(i)
        held_chars += documents[i].characters
    return [d for i, d in enumerate(documents) if i not in held], [d for i, d in enumerate(documents) if i in held]


def split_corpus(documents: Sequence[T], fraction: float, seed: int) -> tuple[list[T], list[T]]:
    """(train, validation) with about `fraction` of the text held out, the same for the same seed and files."""
    if len(documents) > 1:
        return split_documents(documents, fraction, seed)
    [doc] = documents
    chunks = chunk_document(doc, max(MIN_CHUNK_CHARS, doc.characters // CHUNKS_PER_FILE))
    if len(chunks) < 2:
        raise ValueError(f"{doc.path}: too little text to hold out a validation part ({doc.characters} characters)")
    train, val = split_documents(chunks, fraction, seed)
    held = {id(c) for c in val}
    return _joined(chunks, lambda c: id(c) not in held), _joined(chunks, lambda c: id(c) in held)


def _joined(chunks: list[T], keep) -> list[T]:  # noqa: ANN001 - a predicate on a chunk
    """Runs of consecutive chunks that `keep` accepts, each run as one document."""
    runs: list[list[T]] = []
    previous = False
    for chunk in chunks:
        kept = keep(chunk)
        if kept:
            if previous:
                runs[-1].append(chunk)
            else:
                runs.append([chunk])
        previous = kept
    return [_join(run) for run in runs]


def _join(run: list[T]) -> T:
    """Consecutive chunks of one document as one."""
    first = run[0]
    if isinstance(first, StoredDocument):
        last = cast(StoredDocument, run[-1])
        return cast(T, first.span(first.start, last.stop, sum(c.characters for c in run)))
    return replace(first, text="".join(c.text for c in run))


def char_tokenizer(documents: Sequence[Text]) -> "PreTrainedTokenizerBase":
    """A character-level tokenizer over every character of `documents` plus `<|endoftext|>` (also used for unknown
    characters); saved as tokenizer.json, it loads with `AutoTokenizer.from_pretrained`."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    seen: set[str] = set()
    for doc in documents:
        for piece in doc.pieces():
            seen.update(piece)
    chars = sorted(seen)
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


def cached_bpe(documents: Sequence[Text], vocab_size: int, cache: Path) -> "PreTrainedTokenizerBase":
    """`train_bpe(documents, vocab_size)`, reused from `cache / "tokenizers"` when the same text trained one before."""
    from scribe.training.bpe import load_tokenizer

    key = hashlib.sha256(f"bpe {vocab_size}\n".encode() + "".join(d.digest for d in documents).encode())
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


def encode_documents(documents: Sequence[Text], tokenizer: "PreTrainedTokenizerBase", cache: Path | None) -> Encoded:
    """All documents as one int32 token stream, each followed by the end-of-text token; per-document tokens come
    from, and go to, `cache / "tokens"` (a temporary folder when `cache` is None). Each document is tokenised a piece
    at a time into its file, and the stream is read from the files into one array: the memory needed is about the
    array's."""
    import numpy as np
    import torch

    with tempfile.TemporaryDirectory(prefix="scribe-tokens-") as scratch:
        folder = cache / "tokens" / tokenizer_fingerprint(tokenizer) if cache is not None else Path(scratch)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:  # the cache cannot be written: only slower next time
            folder = Path(scratch)
        files, hits, misses = [], 0, 0
        total, done = sum(d.characters for d in documents), 0
        for doc in documents:
            path = folder / f"{doc.digest}.npy"
            if _token_count(path) is None:
                _write_tokens(path, _tokenize(doc, tokenizer, done, total))
                misses += 1
            else:
                hits += 1
            done += doc.characters
            set_stage(f"tokenised {character_count(done, total)}")
            files.append(path)
        counts = [n for n in map(_token_count, files) if n is not None]
        if len(counts) != len(files):
            raise OSError(f"the token cache in {folder} changed while it was read; run again")
        release_free_memory()  # what tokenising freed, before the array comes
        stream = np.empty(sum(counts) + len(files), dtype=np.int32)
        pos = 0
        for path, count in zip(files, counts):
            _read_tokens(path, stream[pos: pos + count])
            stream[pos + count] = tokenizer.eos_token_id
            pos += count + 1
    return Encoded(torch.from_numpy(stream), hits, misses)


def _tokenize(doc: Text, tokenizer: "PreTrainedTokenizerBase", done: int, total: int) -> Iterator[list[int]]:
    """Token ids of `doc`, a piece at a time (`doc.pieces()`: cut where a byte-level BPE starts a token anyway, so the
    ids are the whole text's unless 32,000 characters go by with no blank space), so that progress is reported (`done`
    of `total` characters before this document) and a cancel is honoured between pieces."""
    pos = 0
    for piece in doc.pieces():
        set_stage(f"tokenising: {character_count(done + pos, total)}")
        yield tokenizer(piece, add_special_tokens=False)["input_ids"]
        pos += len(piece)


_PROBE = ("The writer\u2019s lamp,  lit at 9:45.\n\nShe said: \u201cnever!\u201d\n  Two  spaces\tand a tab; caf\u00e9 \u2014 "
          "1,234 words\u2026\n\n\nEnd of it.\n") * 3
"""A text with every kind of place where `cut_pieces` cuts, and blank space around them."""


Encode = Callable[[str], Sequence[int]]
"""A text's token ids: `hf_encode(tokenizer)`, or a Keras model's `Vocab.encode`."""


def hf_encode(tokenizer: "PreTrainedTokenizerBase") -> Encode:
    """The token ids a transformers tokenizer gives a text (no special tokens added)."""
    return lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]


def pieces_keep_tokens(encode: Encode) -> bool:
    """Whether `encode` gives a text's own tokens when it gets the text in `cut_pieces` (tried on a sample cut
    everywhere it can be): true of byte-level BPEs with GPT-2's pre-tokenisation, of character tokenizers and of
    scribe's word vocabularies; not of SentencePiece-style tokenizers, which mark the start of every input."""
    pieces = cut_everywhere(_PROBE)
    return len(pieces) > 20 and [i for piece in pieces for i in encode(piece)] == list(encode(_PROBE))


def text_ids(pieces: Iterable[str], encode: Encode) -> "np.ndarray":
    """The int32 token ids of a text given in pieces, exactly the whole text's: encoded an exact `cut_pieces` piece
    at a time where that gives the same ids (`pieces_keep_tokens`), else joined and encoded at once."""
    import numpy as np

    stream = cut_pieces(iter(pieces), PIECE_CHARS, exact=True)
    if not pieces_keep_tokens(encode):
        stream = iter(("".join(stream),))
    parts = [np.asarray(encode(piece), dtype=np.int32) for piece in stream]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int32)


_NPY_HEADER = 128
"""Bytes of a version 1.0 .npy header for a one-dimensional int32 array of any length below 10**40."""


def _npy_header(count: int) -> bytes:
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<i4", "fortran_order": False, "shape": (count,)})
    header = buffer.getvalue()
    assert len(header) == _NPY_HEADER, len(header)
    return header


def _token_count(path: Path) -> int | None:
    """How many tokens the cache file at `path` holds (a one-dimensional int32 .npy of the right size); None when it
    is missing or damaged (then it is made again)."""
    import numpy as np

    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read(handle)
            data_bytes = path.stat().st_size - handle.tell()
    except (OSError, ValueError):
        return None
    if len(shape) != 1 or fortran or dtype != np.dtype("<i4") or data_bytes != 4 * shape[0]:
        return None
    return shape[0]


def _read_tokens(path: Path, into) -> None:  # noqa: ANN001 - a contiguous int32 numpy array of the file's length
    """Read the tokens of the cache file `path` (checked by `_token_count`) straight into `into`."""
    import numpy as np

    view = memoryview(into).cast("B")
    with open(path, "rb") as handle:
        version = np.lib.format.read_magic(handle)
        (np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0)(handle)
        filled = 0
        while filled < len(view):
            got = handle.readinto(view[filled:])
            if not got:
                raise OSError(f"{path}: shorter than its header says; run again")
            filled += got


def _write_tokens(path: Path, pieces: Iterator[list[int]]) -> None:
    """Write the tokens of `pieces` to the .npy file `path` as they come (atomically: the file appears whole)."""
    import numpy as np

    handle: BinaryIO
    with atomic_writer(path) as handle:
        handle.write(_npy_header(0))
        count = 0
        for ids in pieces:
            handle.write(np.asarray(ids, dtype="<i4").tobytes())
            count += len(ids)
        handle.seek(0)
        handle.write(_npy_header(count))
