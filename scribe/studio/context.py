"""The context budget (how many of the prompt's tokens the model sees, how many are cut from the start) and a
document's context tools: memory, author's note and lorebook, kept beside the document in `<name>.context.toml`::

    memory = "A story of the sea. Terse, physical prose."
    note = "[Mood: dread]"
    note_depth = 2          # paragraphs before the end of the story

    [lorebook]              # the lorebook format of `scribe.studio.lorebook`
    scan_depth = 200
    budget = 400

    [[lorebook.entry]]
    keys = ["Mara"]
    text = "Mara Voss captains the Heron."
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from scribe.engine.base import prompt_budget
from scribe.studio.assembly import Assembly, Counter, assemble
from scribe.studio.document import atomic_write
from scribe.studio.lorebook import Lorebook, LorebookError, lorebook_from_data


@dataclass(frozen=True)
class ContextUse:
    """Tokens of the text before the cursor against the room the model gives a prompt."""

    tokens: int
    context_length: int
    max_new_tokens: int

    @property
    def budget(self) -> int:
        """The most prompt tokens the model sees (the rest of the context is kept for the continuation)."""
        return prompt_budget(self.context_length, self.max_new_tokens)

    @property
    def cut(self) -> int:
        """Tokens cut from the start of the prompt (0 when it fits)."""
        return max(self.tokens - self.budget, 0)


DEFAULT_NOTE_DEPTH = 3
"""Paragraphs before the end of the story where the author's note goes, unless the writer says otherwise."""
CONTEXT_SUFFIX = ".context.toml"


class ContextFileError(ValueError):
    """A context file that cannot be read; the message names the file and what is wrong."""


@dataclass(frozen=True)
class ContextTools:
    """A document's memory, author's note (and its depth in paragraphs) and lorebook."""

    memory: str = ""
    note: str = ""
    note_depth: int = DEFAULT_NOTE_DEPTH
    lorebook: Lorebook = field(default_factory=Lorebook)

    @property
    def empty(self) -> bool:
        """True when there is nothing to add to the story."""
        return not (self.memory.strip() or self.note.strip() or any(e.enabled for e in self.lorebook.entries))

    def assemble(self, story: str, budget: int, count: Counter) -> Assembly:
        """The prompt for continuing `story` with these tools (see `scribe.studio.assembly`)."""
        return assemble(story, budget=budget, count=count, memory=self.memory, note=self.note,
                        note_depth=self.note_depth, lorebook=self.lorebook)

    def to_toml(self) -> str:
        """The context file's text."""
        data = {"memory": self.memory, "note": self.note, "note_depth": self.note_depth,
                "lorebook": self.lorebook.to_dict()}
        return tomli_w.dumps(data, multiline_strings=True)

    @classmethod
    def from_toml(cls, text: str, where: str) -> "ContextTools":
        """Parse a context file's text (ContextFileError naming `where` when it is not one)."""
        try:
            data = tomllib.loads(text)
            lorebook = lorebook_from_data(data.get("lorebook", {}))
        except (tomllib.TOMLDecodeError, LorebookError) as exc:
            raise ContextFileError(f"{where}: {exc}") from None
        depth = data.get("note_depth", DEFAULT_NOTE_DEPTH)
        if not isinstance(depth, int) or depth < 0:
            raise ContextFileError(f"{where}: note_depth must be a whole number of paragraphs, 0 or more")
        return cls(str(data.get("memory", "")), str(data.get("note", "")), depth, lorebook)


def context_path(document: Path) -> Path:
    """Where a document's context tools are kept: `<name>.context.toml` beside it."""
    return document.with_name(document.name + CONTEXT_SUFFIX)


def load_context(file: Path) -> ContextTools:
    """The context tools in `file` (empty ones when it does not exist; ContextFileError when unreadable)."""
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ContextTools()
    except (OSError, UnicodeDecodeError) as exc:
        raise ContextFileError(f"{file}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    return ContextTools.from_toml(text, str(file))


def save_context(file: Path, tools: ContextTools) -> None:
    """Write the context tools to `file` atomically."""
    atomic_write(file, tools.to_toml().encode("utf-8"))


def describe(assembly: Assembly) -> list[str]:
    """One line per part and per cut of an assembled prompt (what `--show-prompt` prints on stderr)."""
    lines = [f"prompt: {assembly.tokens} of {assembly.budget} tokens"]
    for part in assembly.parts:
        if part.source == "lore":
            fired = "always on" if part.via == "always" else f"key {part.key!r} in the {part.via}" if part.via == "story" \
                else f"key {part.key!r} in entry {part.via!r}"
            lines.append(f"  lore    {part.tokens:>6} tokens  {part.label} ({fired})")
        else:
            lines.append(f"  {part.source:<7} {part.tokens:>6} tokens")
    lines += [f"  cut     {c.source} {c.label}: {c.reason}" for c in assembly.cuts]
    return lines
