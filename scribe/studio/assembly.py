"""Context assembly: the one function that builds the prompt a model is sent, whatever the backend.

The prompt is, in this order: the memory, the lorebook entries that fired (ascending order), then the story (the text
before the cursor) with the author's note inserted `note_depth` paragraphs before its end. Budget rules:

- the memory and the author's note are never cut;
- the lorebook entries get at most the lorebook's budget (and what the memory and note leave); beyond it the entries
  with the lowest order are dropped first;
- the story fills what is left and is cut from the front at a paragraph boundary (inside the last paragraph, at a
  word boundary, only when that paragraph alone does not fit).

A paragraph is a line with the newlines before it (blank lines go with the paragraph after them), so cutting and
inserting keep the story's own line breaks; a note placed before every kept paragraph is set off by the newlines
before the story's last paragraph. Lorebook keys are searched in the story's last `scan_depth` tokens: the longest end
of the story, starting at a word, that counts no more than that many tokens.

Tokens are counted with the caller's counter (the model's tokenizer, or any `str -> int`); each part is counted on its
own, the story paragraph by paragraph from its end and no further than the budget reaches (so a long chapter costs
what the model sees, not its length), and the whole prompt once more when it is short enough; a story paragraph is
dropped while the whole does not fit. A counter that adds special tokens to every text (a model's start token: its
count of "") has them taken off each part and counted once for the whole. A `CachedCounter` remembers counts between
assemblies and, given a batch counter, counts new paragraphs together. Nothing here imports textual or torch.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from scribe.studio.lorebook import Lorebook, scan_depths, triggered

Counter = Callable[[str], int]
Source = Literal["memory", "lore", "story", "note"]
_NEWLINES = re.compile(r"\n+")
EXACT_CHARS = 64_000
"""Prompts up to this long are counted whole once more (a few milliseconds); longer ones are the sum of their parts,
each counted apart (cached), so a 128k-token prompt assembles in milliseconds while the writer types."""


@dataclass(frozen=True)
class Part:
    """One piece of the prompt, in prompt order."""

    source: Source
    text: str
    tokens: int
    label: str = ""
    """A lorebook entry's name; "" for the others."""
    key: str = ""
    """The key that fired a lorebook entry ("" for an always-on one)."""
    via: str = ""
    """What a lorebook entry's key was found in: "story", "always", or the entry whose text triggered it."""


@dataclass(frozen=True)
class Cut:
    """Something left out of the prompt, and why."""

    source: Source
    label: str
    reason: str
    tokens: int | None = None
    """Its tokens where they were counted (None for the story's cut start, which is not counted)."""


@dataclass(frozen=True)
class Assembly:
    """The exact prompt, the parts it is made of, and what was left out."""

    parts: tuple[Part, ...]
    cuts: tuple[Cut, ...]
    budget: int
    tokens: int
    """Tokens of the whole prompt, counted once as one text."""

    @property
    def prompt(self) -> str:
        """The text sent to the model."""
        return "".join(part.text for part in self.parts)

    def tokens_of(self, source: Source) -> int:
        """Tokens of the parts from one source (each part counted on its own)."""
        return sum(part.tokens for part in self.parts if part.source == source)

    @property
    def lore(self) -> tuple[Part, ...]:
        """The lorebook entries that were inserted."""
        return tuple(part for part in self.parts if part.source == "lore")


Batch = Callable[[list[str]], list[int]]
"""Counts of many texts at once (a tokenizer's batch encoding, which may spread them over threads)."""


class CachedCounter:
    """A counter that remembers the counts of texts it saw (paragraphs, entries): reassembling while the writer types
    recounts only what changed. With `batch`, texts not seen before are counted together (`many`)."""

    def __init__(self, count: Counter, limit: int = 100_000, batch: Batch | None = None) -> None:
        self.count = count
        self.limit = limit
        self.batch = batch
        self._counts: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        value = self._counts.get(text)
        if value is None:
            if len(self._counts) >= self.limit:
                self._counts = {}  # a new dict, not cleared: a thread reading the old one keeps its counts
            value = self._counts[text] = self.count(text)
        return value

    def many(self, texts: list[str]) -> list[int]:
        """The counts of `texts`; those not seen before are counted in one batch (one by one without `batch`)."""
        counts = self._counts
        missing = list(dict.fromkeys(t for t in texts if t not in counts))
        if missing:
            if len(counts) + len(missing) > self.limit:
                counts = self._counts = {}
                missing = list(dict.fromkeys(texts))
            values = self.batch(missing) if self.batch is not None else [self.count(t) for t in missing]
            counts.update(zip(missing, values))
        return [counts[t] for t in texts]


class NetCounter:
    """A counter less the special tokens it adds to every text (`extra`: a model's start token), so that the counts of
    a prompt's parts add up to the prompt's, which has them once."""

    def __init__(self, count: Counter, extra: int) -> None:
        self.count = count
        self.extra = extra
        self.batch = count.batch if isinstance(count, CachedCounter) else None

    def __call__(self, text: str) -> int:
        return self.count(text) - self.extra

    def many(self, texts: list[str]) -> list[int]:
        """The counts of `texts` (through the counter's batch)."""
        return [n - self.extra for n in count_many(self.count, texts)]


def paragraphs(text: str) -> list[str]:
    """`text` in paragraphs: each line with the newlines before it (the text's leading and trailing newlines stay
    with the first and last). Counted apart, such pieces add up to the tokens of the whole for tokenizers that split
    words from newlines (a newline run followed by a word is split differently when the run ends a piece)."""
    cuts = [m.start() for m in _NEWLINES.finditer(text) if m.start() > 0 and m.end() < len(text)]
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


def paragraphs_from_end(text: str, window: int = 4096) -> Iterator[tuple[int, str]]:
    """The paragraphs of `text` (as `paragraphs` cuts them) from the last to the first, each with its offset in
    `text`. It reads windows of the text from its end (doubling), so taking the last few costs their length, not the
    text's: a window's first paragraph may be cut short by the window, so it is read again in the next."""
    end = len(text)
    while end > 0:
        start = max(end - window, 0)
        pieces = paragraphs(text[start:end])  # `end` starts a paragraph or ends the text: no newline run crosses it
        if start > 0 and len(pieces) < 2:
            window *= 2
            continue
        offset = end
        for piece in reversed(pieces[1:] if start > 0 else pieces):
            offset -= len(piece)
            yield offset, piece
        end = offset
        window *= 2


def paragraph_count(text: str, end: int) -> int:
    """How many paragraphs (as `paragraphs` cuts them) of `text` start before offset `end` (a paragraph's start, or
    the text's end). Newline runs are counted by string operations, not a regular expression: a long chapter's cut
    costs a fraction of a millisecond."""
    if end <= 0 or not text:
        return 0
    if not text.strip("\n"):
        return 1
    head = text[:end]
    while "\n\n" in head:  # each newline run to one newline
        head = head.replace("\n\n", "\n")
    return head.count("\n") + 1 - text.startswith("\n") - (end >= len(text) and text.endswith("\n"))


def count_many(count: Counter, texts: list[str]) -> list[int]:
    """The counts of `texts`: in one batch through a `CachedCounter`, else one by one."""
    return count.many(texts) if isinstance(count, (CachedCounter, NetCounter)) else [count(t) for t in texts]


def count_text(text: str, count: Counter) -> int:
    """The tokens of `text`, counted paragraph by paragraph (through a `CachedCounter`, only paragraphs not seen before
    are counted): the sum of the paragraphs' counts, less the special tokens the counter adds to every text (its count
    of "") for all paragraphs but the first. The same as counting `text` whole for tokenizers that split words from
    newlines (see `paragraphs`)."""
    pieces = paragraphs(text)
    extra = count("")
    return sum(count_many(count, pieces)) - extra * (len(pieces) - 1) if pieces else extra


def tail(text: str, tokens: int, count: Counter) -> str:
    """The longest end of `text` that starts at a word (or at the start) and counts at most `tokens` tokens."""
    if tokens <= 0 or not text:
        return ""
    n = len(text)
    width = min(n, 4 * tokens)
    while width < n and count(text[n - width :]) <= tokens:
        width = min(n, width * 2)
    lo, hi = n - width, n  # find the smallest start in [lo, hi] whose end fits
    if count(text[lo:]) <= tokens:
        hi = lo
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if count(text[mid:]) <= tokens:
            hi = mid
        else:
            lo = mid
    start = hi
    while 0 < start < n and not text[start - 1].isspace():
        start += 1
    return text[start:]


def _block(text: str) -> str:
    """A text placed above the story: it ends with one newline."""
    return text.rstrip("\n") + "\n"


def assemble(story: str, *, budget: int, count: Counter, memory: str = "", note: str = "", note_depth: int = 3,
             lorebook: Lorebook | None = None) -> Assembly:
    """The prompt for continuing `story` in `budget` tokens, with its parts and cuts (see the module doc)."""
    extra = count("")  # tokens the counter adds to every text (a start token): the prompt has them once, a part none
    if extra:
        count = NetCounter(count, extra)
    parts_top: list[Part] = []
    cuts: list[Cut] = []
    if memory.strip():
        text = _block(memory)
        parts_top.append(Part("memory", text, count(text)))
    note_text = note.strip("\n")
    note_tokens = count(note_text + "\n") if note_text.strip() else 0
    fixed = sum(p.tokens for p in parts_top) + note_tokens + extra

    if lorebook is not None and lorebook.entries:
        tails = {depth: tail(story, depth, count) for depth in scan_depths(lorebook)}
        fired = triggered(lorebook, tails)
        lore = [Part("lore", _block(t.entry.text), count(_block(t.entry.text)), t.entry.label, t.key, t.via)
                for t in fired]
        room = max(min(lorebook.budget, budget - fixed), 0)
        why = (f"over the lorebook's budget of {lorebook.budget} tokens" if lorebook.budget < budget - fixed
               else f"no room left in the context's {budget} tokens")
        total = sum(p.tokens for p in lore)
        dropped: set[int] = set()
        for i in sorted(range(len(fired)), key=lambda i: fired[i].entry.order):  # stable: the first of a tie goes
            if total <= room:
                break
            dropped.add(i)
            total -= lore[i].tokens
            cuts.append(Cut("lore", lore[i].label, f"{why} (the lowest order is dropped first)", lore[i].tokens))
        parts_top += [p for i, p in enumerate(lore) if i not in dropped]

    room = budget - extra - sum(p.tokens for p in parts_top) - note_tokens
    kept, offsets = _story_end(story, room, count)
    last_offset, last = next(paragraphs_from_end(story), (0, ""))
    usual = last[: len(last) - len(last.lstrip("\n"))] if last_offset else "\n"
    inside = False
    if not kept and room > 0 and last:  # the last paragraph alone does not fit: cut in it, at a word
        kept, offsets, inside = _end_of_last(story, tail(last, room, count))
    while True:
        if kept:
            kept[0] = kept[0].lstrip("\n")
        assembly = _build(parts_top, kept, note_text, note_depth, usual, count, budget, extra)
        over = assembly.tokens - budget
        if over <= 0 or not kept:
            break
        if len(kept) == 1:  # one paragraph (or its end) left and the whole does not fit: cut inside it, shorter
            kept, offsets, inside = _end_of_last(story, tail(kept[0], count(kept[0]) - over, count))
            continue
        exact = len(assembly.prompt) <= EXACT_CHARS  # counted whole: check again after each paragraph dropped
        while True:  # counted apart the parts fitted, the whole does not: drop paragraphs from the front
            second = kept[1].lstrip("\n")
            over -= count(kept[0]) + count(second) - count(kept[1])
            kept[1] = second
            del kept[0], offsets[0]
            if over <= 0 or exact or len(kept) <= max(note_depth, 1):  # the note's place may change: build again
                break
    cut_chars = len(story) - sum(map(len, kept))
    if cut_chars:
        whole = paragraph_count(story, last_offset if inside else offsets[0] if offsets else len(story))
        what = f"{whole} paragraph{'s' if whole != 1 else ''}" + (" and the start of the last" if inside else "")
        if room <= 0:
            reason = f"no room: memory, author's note and lorebook take the {budget} tokens"
        elif inside:
            reason = f"the last paragraph alone exceeds the {room} tokens left for the story: cut inside it at a word"
        else:
            reason = (f"the first {cut_chars} characters do not fit in the {room} tokens left for the story: "
                      "cut at a paragraph boundary")
        cuts.append(Cut("story", what, reason))
    return Assembly(assembly.parts, tuple(cuts), budget, assembly.tokens)


def _story_end(story: str, room: int, count: Counter) -> tuple[list[str], list[int]]:
    """The story's last paragraphs whose counts add up to at most `room` (the first of them counted without the
    newlines before it, which the prompt does not open with), in story order, with their offsets in the story.
    Paragraphs are counted from the end and no further than the first that does not fit; through a counter with a
    batch, in batches sized from the characters per token seen so far."""
    kept: list[str] = []
    offsets: list[int] = []
    if room <= 0:
        return kept, offsets
    batched = isinstance(count, (CachedCounter, NetCounter)) and count.batch is not None
    chunks = paragraphs_from_end(story)
    used = chars = 0
    chars_per_token = 3.0  # a low guess: the first batch seldom reaches past the cut
    while True:
        want = (room - used) * chars_per_token if batched else 0
        batch: list[tuple[int, str]] = []
        size = 0
        for offset, chunk in chunks:
            batch.append((offset, chunk))
            size += len(chunk)
            if size >= want:
                break
        if not batch:
            break
        texts = [chunk if offset else chunk.lstrip("\n") for offset, chunk in batch]
        counts = count_many(count, texts) if batched else [count(texts[0])]
        for (offset, chunk), tokens in zip(batch, counts):
            if used + tokens > room:
                if offset and used + count(chunk.lstrip("\n")) <= room:  # fits first, without the newlines before it
                    kept.append(chunk)
                    offsets.append(offset)
                return kept[::-1], offsets[::-1]
            used += tokens
            chars += len(chunk)
            kept.append(chunk)
            offsets.append(offset)
        chars_per_token = 1.1 * chars / max(used, 1) + 0.1
    return kept[::-1], offsets[::-1]


def _end_of_last(story: str, piece: str) -> tuple[list[str], list[int], bool]:
    """The story kept as `piece`, an end of its last paragraph (nothing when it is empty)."""
    return ([piece], [len(story) - len(piece)], True) if piece else ([], [], True)


def _build(top: list[Part], kept: list[str], note: str, depth: int, usual: str, count: Counter, budget: int,
           extra: int) -> Assembly:
    """The prompt from the parts above the story, the kept paragraphs and the note `depth` paragraphs before the end
    (set off by the newlines of the paragraph it precedes, or the story's `usual` ones). The whole prompt is counted
    once more when it is at most EXACT_CHARS long; a longer one is the sum of its parts.

    Every newline run goes with the part after it (the note at the end takes the story's closing newlines; the story
    after a note opening the prompt takes the newlines that set it off), as between paragraphs: counted apart, the
    parts then add up to the whole for tokenizers that split words from newlines."""
    parts = list(top)
    at = max(len(kept) - max(depth, 0), 0)
    before, after = kept[:at], kept[at:]
    text = ""
    if note.strip():
        if not after:  # at the very end
            closing = before[-1][len(before[-1].rstrip("\n")):] if before else ""
            if closing:
                before = [*before[:-1], before[-1][: -len(closing)]]
            text = (closing or ("\n" if any(before) else "")) + note + "\n"
        elif not before:  # before every kept paragraph
            text = note
            after = [usual + after[0], *after[1:]]
        else:
            text = after[0][: len(after[0]) - len(after[0].lstrip("\n"))] + note
    if any(before):
        parts.append(Part("story", "".join(before), sum(count(chunk) for chunk in before)))
    if text:
        parts.append(Part("note", text, count(text)))
    if after:
        parts.append(Part("story", "".join(after), sum(count(chunk) for chunk in after)))
    prompt = "".join(p.text for p in parts)
    tokens = count(prompt) if len(prompt) <= EXACT_CHARS else sum(p.tokens for p in parts)
    return Assembly(tuple(parts), (), budget, tokens + extra)
