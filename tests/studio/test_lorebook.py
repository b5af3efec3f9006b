"""Lorebook files: scribe's TOML and JSON, and SillyTavern / KoboldAI world info read as exported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scribe.studio.context import ContextFileError, ContextTools, context_path, load_context, save_context
from scribe.studio.lorebook import LoreEntry, Lorebook, LorebookError, read_lorebook, write_lorebook_toml


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_scribe_toml_round_trips(tmp_path: Path) -> None:
    book = Lorebook((LoreEntry(keys=("Mara", "the captain"), text="Mara Voss.\nScarred.", name="Mara", order=7,
                               scan_depth=50, secondary_keys=("ship",)),
                     LoreEntry(text="World: ash.", always=True, enabled=False)), scan_depth=120, budget=300,
                    recursive=True)
    file = tmp_path / "book.toml"
    file.write_text(write_lorebook_toml(book), encoding="utf-8")
    assert read_lorebook(file) == book
    assert read_lorebook(write(tmp_path / "book.json", book.to_dict())) == book


def test_sillytavern_world_info_is_read_as_exported(tmp_path: Path) -> None:
    data = {"entries": {
        "0": {"uid": 0, "key": ["Mara", "captain"], "keysecondary": ["ship"], "comment": "Mara", "content": "M.",
              "constant": False, "selective": True, "order": 120, "disable": False, "caseSensitive": True,
              "position": 0, "depth": 4, "scanDepth": None},
        "1": {"uid": 1, "key": [], "keysecondary": ["unused"], "comment": "", "content": "World.", "constant": True,
              "selective": False, "order": 100, "disable": True},
    }}
    book = read_lorebook(write(tmp_path / "World.json", data))
    assert book.entries == (
        LoreEntry(keys=("Mara", "captain"), text="M.", name="Mara", order=120, case_sensitive=True,
                  secondary_keys=("ship",)),
        LoreEntry(text="World.", always=True, enabled=False),
    )


def test_character_book_entries_and_settings(tmp_path: Path) -> None:
    data = {"name": "b", "scan_depth": 3, "token_budget": 250, "recursive_scanning": True, "entries": [
        {"keys": ["Bren"], "content": "Bren: smith.", "enabled": True, "insertion_order": 40, "case_sensitive": False,
         "name": "Bren", "secondary_keys": [], "constant": False, "extensions": {}},
    ]}
    book = read_lorebook(write(tmp_path / "card.json", data))
    assert book.budget == 250 and book.recursive is True and book.scan_depth == 200  # message depths are not tokens
    assert book.entries == (LoreEntry(keys=("Bren",), text="Bren: smith.", name="Bren", order=40),)


@pytest.mark.parametrize("shape", ["list", "numbered", "story"])
def test_koboldai_world_info_is_read_as_exported(tmp_path: Path, shape: str) -> None:
    entries = [{"key": "Mara, the captain", "keysecondary": "ship", "selective": True, "content": "M.",
                "comment": "Mara", "constant": False, "folder": None},
               {"key": "", "keysecondary": "", "content": "World.", "comment": "", "constant": True}]
    data = {"list": entries, "numbered": {str(i): e for i, e in enumerate(entries)},
            "story": {"gamestarted": True, "prompt": "x", "worldinfo": entries}}[shape]
    book = read_lorebook(write(tmp_path / "wi.json", data))
    assert book.entries == (LoreEntry(keys=("Mara", "the captain"), text="M.", name="Mara", secondary_keys=("ship",)),
                            LoreEntry(text="World.", always=True))


def test_bad_lorebooks_are_named(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('[[entry]]\nkeys = ["a"]\ntext = "x"\ncolour = 1\n', encoding="utf-8")
    with pytest.raises(LorebookError, match=r"a\.toml: entry 1: unknown field\(s\) colour"):
        read_lorebook(tmp_path / "a.toml")
    (tmp_path / "b.json").write_text('{"entries": [', encoding="utf-8")
    with pytest.raises(LorebookError, match=r"b\.json: not valid JSON"):
        read_lorebook(tmp_path / "b.json")
    with pytest.raises(LorebookError, match=r"c\.json: key '/\(/': not a valid regular expression"):
        read_lorebook(write(tmp_path / "c.json", [{"key": "/(/", "content": "x"}]))
    with pytest.raises(LorebookError, match="cannot read"):
        read_lorebook(tmp_path / "missing.json")


def test_context_file_beside_the_document_round_trips(tmp_path: Path) -> None:
    doc = tmp_path / "story.txt"
    assert context_path(doc) == tmp_path / "story.txt.context.toml"
    assert load_context(context_path(doc)) == ContextTools()
    tools = ContextTools("A sea story.\nTerse.", "[Mood: dread]", 2,
                         Lorebook((LoreEntry(keys=("Mara",), text="Mara."),)))
    save_context(context_path(doc), tools)
    assert load_context(context_path(doc)) == tools
    context_path(doc).write_text("note_depth = -1\n", encoding="utf-8")
    with pytest.raises(ContextFileError, match="story.txt.context.toml: note_depth"):
        load_context(context_path(doc))
