"""The editor's mark is a location that edits move: it lands where the same character offset, moved by the same
edits, lands (text typed at the mark goes after it; an edit around it puts it at the edit's start); offsets and
locations convert as Textual converts them."""

from __future__ import annotations

import random

import pytest
from textual.app import App, ComposeResult
from textual.widgets.text_area import Document

from scribe.ui.widgets import fast_document
from scribe.ui.widgets.editor import Editor
from scribe.ui.widgets.fast_document import FastDocument


def moved(offset: int, start: int, end: int, inserted: int) -> int:
    """Where a mark at `offset` goes when text[start:end] becomes `inserted` characters."""
    if offset <= start:
        return offset
    if offset < end:
        return start
    return offset + inserted - (end - start)


@pytest.mark.parametrize("seed", range(4))
def test_the_mark_moves_as_the_offset_it_stands_for(seed: int) -> None:
    chooser = random.Random(seed)
    words = ["a", "bc", "déf", "\n", "\n\n", "ghij ", "日本"]
    text = "".join(chooser.choice(words) for _ in range(300))
    document = FastDocument(text)
    offset = chooser.randrange(len(text) + 1)
    document.mark = document.get_location_from_index(offset)
    for _ in range(400):
        start = chooser.randrange(len(text) + 1)
        end = min(len(text), start + chooser.choice([0, 0, 1, 3, 20]))
        if chooser.random() < 0.2:  # edits at and around the mark: typing at it, deleting up to it, over it
            start = max(0, offset - chooser.choice([0, 0, 1, 2]))
            end = min(len(text), offset + chooser.choice([0, 0, 1]))
        inserted = "".join(chooser.choice(words) for _ in range(chooser.choice([0, 1, 2])))
        document.replace_range(document.get_location_from_index(start), document.get_location_from_index(end),
                               inserted)
        text = text[:start] + inserted + text[end:]
        offset = moved(offset, start, end, len(inserted))
        assert document.text == text
        assert document.mark == document.get_location_from_index(offset)
        assert document.get_index_from_location(document.mark) == offset


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_offsets_and_locations_convert_as_textual_converts_them(newline: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast_document, "LOCATE_GROUP", 3)  # several groups of lines in a short text
    lines = ["", "one", "", "two words", "three", "", "", "final line"]
    fast, textual = FastDocument(newline.join(lines)), Document(newline.join(lines))
    for index in range(len(textual.text) + 1):
        assert fast.get_location_from_index(index) == textual.get_location_from_index(index), index
    for row, line in enumerate(lines):
        for column in range(len(line) + 1):
            assert fast.get_index_from_location((row, column)) == textual.get_index_from_location((row, column))
    for outside in (-1, len(textual.text) + 1):
        with pytest.raises(ValueError):
            fast.get_location_from_index(outside)


class EditorApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Editor("first line\nsecond line\nthird line", id="editor")


async def test_undo_and_redo_move_the_mark_and_a_new_text_has_none() -> None:
    app = EditorApp()
    async with app.run_test(size=(60, 10)) as pilot:
        editor = app.query_one(Editor)
        editor.set_mark((1, 6))
        editor.move_cursor((0, 0))
        await pilot.press(*"new", "enter")
        assert editor.mark_location == (2, 6) and editor.mark == len("new\nfirst line\nsecond")
        editor.undo()
        assert editor.mark_location == (1, 6)
        editor.redo()
        assert editor.mark_location == (2, 6)
        editor.insert_at_mark(" [here]")
        assert editor.document.get_line(2) == "second [here] line" and editor.mark_location is None
        editor.set_mark((0, 1))
        editor.load_text("another text")
        assert editor.mark_location is None and editor.mark is None
