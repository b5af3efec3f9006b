"""The lorebook (world info): entries of text inserted into the prompt when one of their keys appears in the story.

An entry has keys and a text. A key is a word or phrase, matched as a whole word, without regard to case unless the
entry is case-sensitive; a key written `/pattern/flags` is a regular expression (flags `i`, `m`, `s`, as SillyTavern
writes them). Secondary keys, when an entry has them, must match as well (one of them). An always-on entry is inserted
whatever the story says. Entries are placed in ascending `order`; when the entries that fired do not fit their token
budget, the lowest `order` is dropped first.

scribe's own lorebook file is TOML (or the same fields in JSON)::

    scan_depth = 200      # tokens at the end of the story searched for keys (each entry may set its own)
    budget = 400          # tokens for all the inserted entries together
    recursive = false     # true: an inserted entry's text can trigger other entries (one level)

    [[entry]]
    name = "Mara"
    keys = ["Mara", "the captain"]
    text = "Mara Voss is the captain of the Heron, scarred, patient, never lies."
    order = 100           # higher: placed nearer the story, dropped last
    always = false        # true: inserted whatever the story says
    case_sensitive = false
    scan_depth = 50       # optional: this entry's own scan depth
    secondary_keys = []   # optional: one of these must match too
    enabled = true

`read_lorebook` also reads, as they are (recognised by their content), the world-info JSON of:
- SillyTavern (`{"entries": {"0": {"key": [...], "keysecondary": [...], "content": ..., "comment": ...,
  "constant": bool, "selective": bool, "order": n, "disable": bool, "caseSensitive": bool|null}}}`), and the
  character-card "character_book" form (`{"entries": [{"keys": [...], "content": ..., "insertion_order": n,
  "enabled": bool, "constant": bool, "case_sensitive": bool, "secondary_keys": [...]}], "scan_depth": n,
  "token_budget": n, "recursive_scanning": bool}`) — fields as SillyTavern's `world-info.js` and the Character Card
  V2 spec (github.com/malfoyslastname/character-card-spec-v2) name them;
- KoboldAI / KoboldCpp (KoboldAI Lite): a list of entries, `{"worldinfo": [...]}` in a saved story, or a dict of
  numbered entries, each `{"key": "a,b", "keysecondary": "c", "content": ..., "comment": ..., "constant": bool,
  "selective": bool}` (keys are comma-separated), as KoboldAI's `aiserver.py` and Kobold Lite save them.
Their scan depths count chat messages or story actions, not tokens, so they are not taken: the lorebook's own scan
depth applies. Nothing here imports textual or torch.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import tomli_w

DEFAULT_SCAN_DEPTH = 200
"""Tokens at the end of the story searched for keys, unless the lorebook or the entry says otherwise."""
DEFAULT_BUDGET = 400
"""Tokens for all the inserted entries together, unless the lorebook says otherwise."""
DEFAULT_ORDER = 100
_REGEX_KEY = re.compile(r"^/(.+)/([a-z]*)$", re.DOTALL)
_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}


class LorebookError(ValueError):
    """A lorebook that cannot be read; the message names the file and what is wrong."""


@dataclass(frozen=True)
class LoreEntry:
    """One lorebook entry."""

    keys: tuple[str, ...] = ()
    """Words or phrases (whole words), or `/regex/flags`; any one of them triggers the entry."""
    text: str = ""
    """What is inserted into the prompt."""
    name: str = ""
    order: int = DEFAULT_ORDER
    """Placement (ascending) and priority: the lowest order is dropped first when the entries exceed their budget."""
    always: bool = False
    """Inserted whatever the story says."""
    case_sensitive: bool = False
    scan_depth: int | None = None
    """Tokens at the end of the story searched for this entry's keys (None: the lorebook's scan depth)."""
    secondary_keys: tuple[str, ...] = ()
    """When given, one of these must match as well."""
    enabled: bool = True

    @property
    def label(self) -> str:
        """The name, or the first key, or the start of the text."""
        return self.name or (self.keys[0] if self.keys else self.text[:24])

    def first_match(self, text: str) -> str | None:
        """The first key (in the entry's order) found in `text`, or None; secondary keys must match too."""
        hit = next((key for key in self.keys if key_pattern(key, self.case_sensitive).search(text)), None)
        if hit is None or not self.secondary_keys:
            return hit
        return hit if any(key_pattern(k, self.case_sensitive).search(text) for k in self.secondary_keys) else None


@dataclass(frozen=True)
class Lorebook:
    """Entries and how they are searched and budgeted."""

    entries: tuple[LoreEntry, ...] = ()
    scan_depth: int = DEFAULT_SCAN_DEPTH
    budget: int = DEFAULT_BUDGET
    recursive: bool = False
    """An inserted entry's text can trigger other entries (one level)."""

    def to_dict(self) -> dict[str, Any]:
        """The lorebook as the fields of scribe's file format (defaults of entries left out)."""
        defaults = LoreEntry()
        entries = []
        for entry in self.entries:
            values: dict[str, Any] = {}
            for f in fields(LoreEntry):
                value = getattr(entry, f.name)
                if value != getattr(defaults, f.name) or f.name in ("keys", "text"):
                    values[f.name] = list(value) if isinstance(value, tuple) else value
            entries.append(values)
        return {"scan_depth": self.scan_depth, "budget": self.budget, "recursive": self.recursive, "entry": entries}

    def with_entry(self, index: int, entry: LoreEntry | None) -> "Lorebook":
        """A copy with entry `index` replaced (`index == len(entries)`: appended; `entry` None: removed)."""
        entries = list(self.entries)
        if entry is None:
            del entries[index]
        elif index == len(entries):
            entries.append(entry)
        else:
            entries[index] = entry
        return replace(self, entries=tuple(entries))


_PATTERNS: dict[tuple[str, bool], re.Pattern[str]] = {}


def key_pattern(key: str, case_sensitive: bool = False) -> re.Pattern[str]:
    """The compiled pattern of a key: `/regex/flags` as written, otherwise the key as a whole word or phrase."""
    cached = _PATTERNS.get((key, case_sensitive))
    if cached is not None:
        return cached
    regex = _REGEX_KEY.match(key)
    if regex is not None:
        flags = 0
        for letter in regex.group(2):
            flags |= _FLAGS.get(letter, 0)
        try:
            pattern = re.compile(regex.group(1), flags)
        except re.error as exc:
            raise LorebookError(f"key {key!r}: not a valid regular expression ({exc})") from None
    else:
        words = r"\s+".join(re.escape(word) for word in key.split())
        pattern = re.compile(r"(?<!\w)" + words + r"(?!\w)", 0 if case_sensitive else re.IGNORECASE)
    _PATTERNS[(key, case_sensitive)] = pattern
    return pattern


# --- reading and writing files


def read_lorebook(path: str | Path) -> Lorebook:
    """A lorebook file: scribe's TOML or JSON, or a SillyTavern / KoboldAI world-info JSON (see the module doc)."""
    file = Path(path).expanduser()
    try:
        raw = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise LorebookError(f"{file}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise LorebookError(f"{file}: not UTF-8 text") from None
    as_json = file.suffix.lower() != ".toml" and raw.lstrip()[:1] in ("{", "[")  # TOML tables start with "[" too
    try:
        data: Any = json.loads(raw) if as_json else tomllib.loads(raw)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LorebookError(f"{file}: not valid {'JSON' if as_json else 'TOML'} ({exc})") from None
    try:
        book = lorebook_from_data(data)
        for entry in book.entries:  # a bad regular expression is named now, not at the first continuation
            for key in (*entry.keys, *entry.secondary_keys):
                key_pattern(key, entry.case_sensitive)
    except LorebookError as exc:
        raise LorebookError(f"{file}: {exc}") from None
    return book


def write_lorebook_toml(book: Lorebook) -> str:
    """scribe's TOML form of a lorebook."""
    return tomli_w.dumps(book.to_dict(), multiline_strings=True)


def lorebook_from_data(data: Any) -> Lorebook:
    """A lorebook from parsed JSON/TOML in any of the known forms (LorebookError when none fits)."""
    if isinstance(data, list):
        return Lorebook(tuple(_kobold_entry(e) for e in _dicts(data)))
    if not isinstance(data, dict):
        raise LorebookError("not a lorebook: expected a table of entries")
    if "entry" in data or ("entries" not in data and "worldinfo" not in data and not _numbered(data)):
        return _scribe_lorebook(data)
    if "worldinfo" in data:
        return Lorebook(tuple(_kobold_entry(e) for e in _dicts(data["worldinfo"])))
    if "entries" in data:
        entries = data["entries"]
        items = list(entries.values()) if isinstance(entries, dict) else entries
        book = Lorebook(tuple(_sillytavern_entry(e) for e in _dicts(items)))
        return _with_book_settings(book, data)
    return Lorebook(tuple(_kobold_entry(e) for e in _dicts(data.values())))


def _numbered(data: dict[str, Any]) -> bool:
    return bool(data) and all(k.isdigit() and isinstance(v, dict) for k, v in data.items())


def _dicts(items: Iterable[Any]) -> Iterator[dict[str, Any]]:
    for item in items:
        if not isinstance(item, dict):
            raise LorebookError(f"an entry is {type(item).__name__}, not a table")
        yield item


def _with_book_settings(book: Lorebook, data: dict[str, Any]) -> Lorebook:
    """The character-book settings that mean the same in scribe (token budget, recursion)."""
    if isinstance(data.get("token_budget"), int) and data["token_budget"] > 0:
        book = replace(book, budget=data["token_budget"])
    if isinstance(data.get("recursive_scanning"), bool):
        book = replace(book, recursive=data["recursive_scanning"])
    return book


def _keys(value: Any) -> tuple[str, ...]:
    """Keys from a list or a comma-separated string, blanks dropped."""
    items = value.split(",") if isinstance(value, str) else (value or [])
    return tuple(str(k).strip() for k in items if str(k).strip())


def _sillytavern_entry(e: dict[str, Any]) -> LoreEntry:
    keys = e.get("key", e.get("keys", ()))
    secondary = e.get("keysecondary", e.get("secondary_keys", ()))
    selective = e.get("selective", True)
    order = e.get("order", e.get("insertion_order", DEFAULT_ORDER))
    enabled = not e["disable"] if "disable" in e else e.get("enabled", True)
    case = e.get("caseSensitive", e.get("case_sensitive"))
    return LoreEntry(keys=_keys(keys), text=str(e.get("content", "")), name=str(e.get("comment") or e.get("name") or ""),
                     order=int(order) if isinstance(order, (int, float)) else DEFAULT_ORDER,
                     always=bool(e.get("constant", False)), case_sensitive=bool(case),
                     secondary_keys=_keys(secondary) if selective else (), enabled=bool(enabled))


def _kobold_entry(e: dict[str, Any]) -> LoreEntry:
    secondary = _keys(e.get("keysecondary", ())) if e.get("selective") else ()
    return LoreEntry(keys=_keys(e.get("key", ())), text=str(e.get("content", "")), name=str(e.get("comment") or ""),
                     always=bool(e.get("constant", False)), secondary_keys=secondary)


_ENTRY_FIELDS = {f.name: f for f in fields(LoreEntry)}


def _scribe_lorebook(data: dict[str, Any]) -> Lorebook:
    entries = []
    for number, e in enumerate(_dicts(data.get("entry", [])), 1):
        unknown = sorted(set(e) - set(_ENTRY_FIELDS))
        if unknown:
            raise LorebookError(f"entry {number}: unknown field(s) {', '.join(unknown)}; known: "
                                f"{', '.join(_ENTRY_FIELDS)}")
        values = dict(e)
        for name in ("keys", "secondary_keys"):
            if name in values:
                values[name] = _keys(values[name])
        for name, kind in (("order", int), ("scan_depth", int), ("text", str), ("name", str)):
            if name in values and values[name] is not None and not isinstance(values[name], kind):
                raise LorebookError(f"entry {number}: {name} must be {kind.__name__}")
        entries.append(LoreEntry(**values))
    settings: dict[str, Any] = {}
    for name in ("scan_depth", "budget"):
        if name in data:
            if not isinstance(data[name], int) or data[name] < 0:
                raise LorebookError(f"{name} must be a whole number of tokens, 0 or more")
            settings[name] = data[name]
    if "recursive" in data:
        settings["recursive"] = bool(data["recursive"])
    return Lorebook(tuple(entries), **settings)


@dataclass(frozen=True)
class Trigger:
    """Why an entry fired: the key that matched and where (the story, or another entry's text)."""

    entry: LoreEntry
    key: str
    """The key that matched ("" for an always-on entry)."""
    via: str = "story"
    """"story", "always", or the label of the entry whose text triggered it (recursion)."""


def triggered(book: Lorebook, tails: dict[int, str]) -> list[Trigger]:
    """The enabled entries that fire, in ascending order: always-on ones, those whose key is in the story's tail
    (`tails[depth]`: the story's last `depth` tokens, one per scan depth used), then (recursive books) those whose key is
    in the text of an entry that fired."""
    fired: list[Trigger] = []
    rest: list[LoreEntry] = []
    for entry in book.entries:
        if not entry.enabled:
            continue
        if entry.always:
            fired.append(Trigger(entry, "", "always"))
            continue
        key = entry.first_match(tails[entry.scan_depth if entry.scan_depth is not None else book.scan_depth])
        if key is not None:
            fired.append(Trigger(entry, key))
        else:
            rest.append(entry)
    if book.recursive:
        sources = list(fired)
        for entry in rest:
            for source in sources:
                key = entry.first_match(source.entry.text)
                if key is not None:
                    fired.append(Trigger(entry, key, source.entry.label))
                    break
    return sorted(fired, key=lambda t: t.entry.order)


def scan_depths(book: Lorebook) -> set[int]:
    """The scan depths (tokens) the enabled, keyed entries of `book` use."""
    return {e.scan_depth if e.scan_depth is not None else book.scan_depth
            for e in book.entries if e.enabled and not e.always}
