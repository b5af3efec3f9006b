"""A project: a folder of chapter files and one `scribe-project.toml` that orders them and holds what they share::

    chapters = ["01-departure.txt", "02-storm.txt", "03-landfall.txt"]   # default: the folder's .txt/.md, by name
    memory = "A sea story. Terse, physical prose."   # placed above each chapter's own memory
    note = "[Mood: dread]"                           # used when a chapter has no note of its own
    note_depth = 3
    include_previous = true     # continuing a chapter starts from the end of the previous one when the budget allows
    previous_paragraphs = 3

    [lorebook]                  # shared entries, before each chapter's own (format: `scribe.studio.lorebook`)
    [[lorebook.entry]]
    keys = ["Mara"]
    text = "Mara Voss captains the Heron."

    [settings]                  # the chapters' default settings (the settings file's names; a chapter's own win)
    model = "scribe-gutenberg"
    temperature = 0.7

The end of the previous chapter is put before the chapter's text, so the assembly, which cuts the story from the
front, keeps it only when the budget leaves room. Word counts and search read the chapter files. Nothing here imports
textual or torch.
"""

from __future__ import annotations

import re
import tomllib
from itertools import islice
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scribe.studio.assembly import paragraphs_from_end
from scribe.studio.context import DEFAULT_NOTE_DEPTH, ContextTools
from scribe.studio.document import Document, DocumentError
from scribe.studio.layered_settings import checked_values
from scribe.studio.lorebook import Lorebook, LorebookError, lorebook_from_data

PROJECT_FILE = "scribe-project.toml"
CHAPTER_SUFFIXES = (".txt", ".md")


class ProjectError(ValueError):
    """A project that cannot be read; the message names the file and what is wrong."""


@dataclass(frozen=True)
class SearchHit:
    """A line of a chapter that matches a search."""

    chapter: str
    line: int
    """1-based."""
    text: str


@dataclass(frozen=True)
class Project:
    """A project folder, its chapters in order and what they share."""

    folder: Path
    chapters: tuple[str, ...]
    tools: ContextTools = field(default_factory=ContextTools)
    include_previous: bool = True
    previous_paragraphs: int = 3
    settings: dict[str, Any] = field(default_factory=dict, hash=False)
    _previous_ends: dict[str, tuple[tuple[int, int, int], str]] = field(default_factory=dict, init=False, repr=False,
                                                                         compare=False, hash=False)
    """The end of the chapter before each chapter, with the stat of its file when it was read."""

    @classmethod
    def load(cls, folder: str | Path) -> "Project":
        """Read `folder`'s project file (ProjectError naming it when it is missing or wrong)."""
        root = Path(folder).expanduser().absolute()
        file = root / PROJECT_FILE
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except (FileNotFoundError, NotADirectoryError):
            raise ProjectError(f"{root}: no {PROJECT_FILE}; a project is a folder of chapters with one") from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ProjectError(f"{file}: {exc}") from None
        chapters = data.get("chapters")
        if chapters is None:
            chapters = sorted(p.name for p in root.iterdir() if p.suffix in CHAPTER_SUFFIXES and p.is_file())
        if not isinstance(chapters, list) or not all(isinstance(c, str) for c in chapters):
            raise ProjectError(f"{file}: chapters must be a list of file names")
        missing = [c for c in chapters if not (root / c).is_file()]
        if missing:
            raise ProjectError(f"{file}: chapter file(s) not found: {', '.join(missing)}")
        try:
            lorebook = lorebook_from_data(data.get("lorebook", {}))
        except LorebookError as exc:
            raise ProjectError(f"{file}: lorebook: {exc}") from None
        depth = data.get("note_depth", DEFAULT_NOTE_DEPTH)
        previous = data.get("previous_paragraphs", 3)
        for name, value in (("note_depth", depth), ("previous_paragraphs", previous)):
            if not isinstance(value, int) or value < 0:
                raise ProjectError(f"{file}: {name} must be a whole number, 0 or more")
        try:
            settings = checked_values(dict(data.get("settings", {})))
        except (ValueError, TypeError) as exc:
            raise ProjectError(f"{file}: [settings]: {exc}") from None
        tools = ContextTools(str(data.get("memory", "")), str(data.get("note", "")), depth, lorebook)
        return cls(root, tuple(chapters), tools, bool(data.get("include_previous", True)), previous, settings)

    def path_of(self, chapter: str) -> Path:
        """A chapter's file."""
        return self.folder / chapter

    def text_of(self, chapter: str) -> str:
        """A chapter's text as on disk (ProjectError when it cannot be read as a document)."""
        try:
            return Document.open(self.path_of(chapter)).saved_text
        except DocumentError as exc:
            raise ProjectError(str(exc)) from None

    def word_counts(self, open_texts: Mapping[str, str] | None = None) -> list[tuple[str, int]]:
        """(chapter, words) in chapter order; a chapter in `open_texts` is counted as given (an editor's unsaved
        text), the others as on disk."""
        return [(chapter, len(self._text(chapter, open_texts).split())) for chapter in self.chapters]

    def search(self, query: str, *, regex: bool = False, case_sensitive: bool = False,
               open_texts: Mapping[str, str] | None = None) -> list[SearchHit]:
        """Every line of every chapter that contains `query` (a regular expression when `regex`); a chapter in
        `open_texts` is searched as given."""
        try:
            pattern = re.compile(query if regex else re.escape(query), 0 if case_sensitive else re.IGNORECASE)
        except re.error as exc:
            raise ProjectError(f"search {query!r}: not a valid regular expression ({exc})") from None
        return [SearchHit(chapter, number, line) for chapter in self.chapters
                for number, line in enumerate(self._text(chapter, open_texts).splitlines(), 1) if pattern.search(line)]

    def _text(self, chapter: str, open_texts: Mapping[str, str] | None) -> str:
        return open_texts[chapter] if open_texts and chapter in open_texts else self.text_of(chapter)

    def includes_previous(self, chapter: str) -> bool:
        """True when continuing `chapter` starts from the end of the chapter before it."""
        return self.include_previous and self.previous_paragraphs > 0 and self.chapters.index(chapter) > 0

    def previous_end(self, chapter: str) -> str:
        """The last `previous_paragraphs` paragraphs of the chapter before `chapter` ("" for the first); read again
        only when that chapter's file changed."""
        index = self.chapters.index(chapter)
        if index == 0 or self.previous_paragraphs == 0:
            return ""
        file = self.path_of(self.chapters[index - 1])
        try:
            stat = file.stat()
        except OSError as exc:
            raise ProjectError(f"{file}: cannot read: {exc.strerror or exc}") from None
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        known = self._previous_ends.get(chapter)
        if known is not None and known[0] == key:
            return known[1]
        ends = [piece for _, piece in islice(paragraphs_from_end(self.text_of(self.chapters[index - 1]).rstrip()),
                                              self.previous_paragraphs)]
        end = "".join(reversed(ends)).lstrip("\n")
        self._previous_ends[chapter] = (key, end)
        return end

    def story_for(self, chapter: str, text: str) -> str:
        """What a continuation of `text` in `chapter` continues: with the previous chapter's end when included."""
        previous = self.previous_end(chapter) if self.include_previous else ""
        return previous + "\n\n" + text if previous else text

    def tools_for(self, own: ContextTools) -> ContextTools:
        """A chapter's context tools on top of the project's: both memories (the project's first), the chapter's note
        (else the project's), the project's lorebook entries then the chapter's."""
        shared = self.tools
        memory = "\n".join(m.rstrip("\n") for m in (shared.memory, own.memory) if m.strip())
        note, depth = (own.note, own.note_depth) if own.note.strip() else (shared.note, shared.note_depth)
        book = own.lorebook if own.lorebook.entries else shared.lorebook
        lorebook: Lorebook = replace(book, entries=shared.lorebook.entries + own.lorebook.entries)
        return ContextTools(memory, note, depth, lorebook)


def project_of(document: Path | None) -> Project | None:
    """The project a document is a chapter of (its folder has a project file that lists it), or None."""
    if document is None or not (document.parent / PROJECT_FILE).is_file():
        return None
    try:
        project = Project.load(document.parent)
    except ProjectError:
        return None
    return project if document.name in project.chapters else None


def project_settings(document: Path | None) -> tuple[dict[str, Any], str | None]:
    """The default settings of the project `document` is a chapter of (empty when it is none), and why the project
    file beside it cannot be used when it cannot (a one-line message naming the file)."""
    if document is None or not (document.parent / PROJECT_FILE).is_file():
        return {}, None
    try:
        project = Project.load(document.parent)
    except ProjectError as exc:
        return {}, str(exc)
    return (dict(project.settings), None) if document.name in project.chapters else ({}, None)
