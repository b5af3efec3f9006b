"""Context assembly: the one function that builds the prompt a model is sent, whatever the backend.

The prompt is, in this order: the memory, the lorebook entries that fired (ascending order), then the story (the text
before the cursor) with the author's note inserted `note_depth` paragraphs before its end. Budget rules:

- the memory and the author's note are never cut;
- the lorebook entries get at most the lorebook's budget (and what the memory and note leave); beyond it the entries
  with the lowest order are dropped first;
- the story fills what is left and is cut from the front at a paragraph boundary (inside the last paragraph, at a
  word boundary, only when that paragraph alone does not fit).

A paragraph is a line and the newlines that end it (blank lines belong to the paragraph before them), so cutting and
inserting keep the story's own line breaks. Lorebook keys are searched in the story's last `scan_depth` tokens: the
longest end of the story, starting at a word, that counts no more than that many tokens.

Tokens are counted with the caller's counter (the model's tokenizer, or any `str -> int`); each part is counted on its
own and the whole prompt once more, and a story paragraph is dropped while the whole does not fit. Nothing here
imports textual or torch.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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


class CachedCounter:
    """A counter that remembers the counts of texts it saw (paragraphs, entries): reassembling while the writer types
    recounts only what changed."""

    def __init__(self, count: Counter, limit: int = 100_000) -> None:
        self.count = count
        self.limit = limit
        self._counts: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        value = self._counts.get(text)
        if value is None:
            if len(self._counts) >= self.limit:
                self._counts.clear()
            value = self._counts[text] = self.count(text)
        return value


def paragraphs(text: str) -> list[str]:
    """`text` in paragraphs: each line with the newlines before it (the text's leading and trailing newlines stay
    with the first and last). Counted apart, such pieces add up to the tokens of the whole for tokenizers that split
    words from newlines (a newline run followed by a word is split differently when the run ends a piece)."""
    cuts = [m.start() for m in _NEWLINES.finditer(text) if m.start() > 0 and m.end() < len(text)]
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


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
    parts_top: list[Part] = []
    cuts: list[Cut] = []
    if memory.strip():
        text = _block(memory)
        parts_top.append(Part("memory", text, count(text)))
    note_text = note.strip("\n")
    note_tokens = count(note_text + "\n") if note_text.strip() else 0
    fixed = sum(p.tokens for p in parts_top) + note_tokens

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

    chunks = paragraphs(story)
    room = budget - sum(p.tokens for p in parts_top) - note_tokens
    keep, used = len(chunks), 0
    while keep > 0:
        size = count(chunks[keep - 1] if keep > 1 else chunks[0].lstrip("\n"))
        if used + size > room:
            break
        used += size
        keep -= 1
    inside = keep == len(chunks) and bool(chunks) and room > 0  # the last paragraph alone does not fit: cut in it
    kept = [piece for piece in (tail(chunks[-1], room, count),) if piece] if inside else chunks[keep:]
    usual = next((c[: len(c) - len(c.lstrip("\n"))] for c in chunks[1:2]), "\n") or "\n"
    while True:
        if kept:
            kept[0] = kept[0].lstrip("\n")
        assembly = _build(parts_top, kept, note_text, note_depth, usual, count, budget)
        if assembly.tokens <= budget or len(kept) <= 1:
            break
        over = assembly.tokens - budget  # counted apart the parts fitted, the whole does not: drop enough paragraphs
        while over > 0 and len(kept) > 1:
            over -= count(kept[0])
            kept = kept[1:]
    cut_chars = len(story) - len("".join(kept))
    if cut_chars:
        whole = len(chunks) - len(kept)
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


def _build(top: list[Part], kept: list[str], note: str, depth: int, usual: str, count: Counter,
           budget: int) -> Assembly:
    """The prompt from the parts above the story, the kept paragraphs and the note `depth` paragraphs before the end
    (set off by the newlines of the paragraph it precedes, or the story's `usual` ones). The whole prompt is counted
    once more when it is at most EXACT_CHARS long; a longer one is the sum of its parts."""
    parts = list(top)
    at = max(len(kept) - max(depth, 0), 0)
    before, after = "".join(kept[:at]), "".join(kept[at:])
    if before:
        parts.append(Part("story", before, sum(count(chunk) for chunk in kept[:at])))
    if note.strip():
        if not after:  # at the very end
            text = ("\n" if before and not before.endswith("\n") else "") + note + "\n"
        elif not before:  # before every kept paragraph
            text = note + usual
        else:
            text = after[: len(after) - len(after.lstrip("\n"))] + note
        parts.append(Part("note", text, count(text)))
    if after:
        parts.append(Part("story", after, sum(count(chunk) for chunk in kept[at:])))
    prompt = "".join(p.text for p in parts)
    tokens = count(prompt) if len(prompt) <= EXACT_CHARS else sum(p.tokens for p in parts)
    return Assembly(tuple(parts), (), budget, tokens)
