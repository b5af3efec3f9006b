"""The editor's caching documents stay equal to Textual's own answers through typing, undo, redo and reloads."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.geometry import Offset
from textual.widgets.text_area import WrappedDocument

from scribe.ui.widgets.editor import Editor
from scribe.ui.widgets.fast_document import FastDocument, FastWrappedDocument

TEXT = "\n".join(f"Paragraph {n}: " + "a fairly long sentence that wraps " * (n % 7 + 1)
                 + ("\tcafé — 日本語の文章も折り返す " * (n % 3) if n % 4 else "") for n in range(60))


class EditorApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Editor(TEXT, id="editor")


def assert_consistent(editor: Editor) -> None:
    document, wrapped = editor.document, editor.wrapped_document
    assert isinstance(document, FastDocument) and isinstance(wrapped, FastWrappedDocument)
    assert editor.text == "\n".join(document.lines)  # the uncached join
    reference = WrappedDocument(document, wrapped._width, wrapped._tab_width)  # Textual's own wrapping
    assert wrapped.height == reference.height
    assert [wrapped.get_offsets(line) for line in range(document.line_count)] == reference._wrap_offsets
    assert [wrapped._offset_to_line_info[row] for row in range(wrapped.height)] == reference._offset_to_line_info
    assert [wrapped._line_index_to_offsets[line] for line in range(document.line_count)] == \
        reference._line_index_to_offsets
    for row in range(0, wrapped.height, 7):
        location = wrapped.offset_to_location(Offset(5, row))
        assert location == reference.offset_to_location(Offset(5, row))
        assert wrapped.location_to_offset(location) == reference.location_to_offset(location)


async def test_cached_text_and_height_follow_every_change() -> None:
    app = EditorApp()
    async with app.run_test(size=(60, 20)) as pilot:
        editor = app.query_one(Editor)
        assert_consistent(editor)
        editor.move_cursor((30, 5))
        await pilot.press(*"hello world", "enter", "backspace", "backspace")
        assert editor.document.get_line(30).startswith("Paraghello worlraph 30")
        assert_consistent(editor)
        editor.insert(" a long insertion " * 20, (3, 0))
        editor.delete((10, 0), (12, 0))
        assert_consistent(editor)
        before_undo = editor.text
        editor.undo()
        assert editor.text != before_undo
        assert_consistent(editor)
        editor.redo()
        assert editor.text == before_undo
        assert_consistent(editor)
        await pilot.resize_terminal(40, 20)
        await pilot.pause()
        assert_consistent(editor)
        editor.load_text("short\ntext")
        assert editor.text == "short\ntext"
        assert_consistent(editor)


async def test_a_long_document_s_wrap_data_is_not_walked_by_the_garbage_collector() -> None:
    """Per-line wrap data of 200,000 lines lives in numpy arrays, which the garbage collector never walks (a list of a
    50 MB document's lines took each young collection 100 ms)."""
    import gc

    lines = "\n".join(f"line {n} " + "word " * (n % 30) + "\t" * (n % 50 == 0) for n in range(200_000))

    class LongApp(App[None]):
        def compose(self) -> ComposeResult:
            yield Editor(lines, id="editor")

    app = LongApp()
    async with app.run_test(size=(60, 20)) as pilot:
        editor = app.query_one(Editor)
        editor.move_cursor((100_000, 3))
        await pilot.press(*"typed", "enter")
        wrapped = editor.wrapped_document
        containers = [value for value in vars(wrapped).values() if isinstance(value, (list, dict, tuple, set))]
        assert not any(gc.is_tracked(value) and len(value) > 1000 for value in containers)
        assert len(wrapped._wrap_offsets) == len(wrapped._tab_width_cache) == editor.document.line_count == 200_001
        assert wrapped.get_offsets(100_000) == WrappedDocument(editor.document, wrapped._width).get_offsets(100_000)
        assert editor.document.get_line(100_000) == "lintyped" and editor.document.get_line(100_001).startswith("e 100000 ")


PLAIN = "\n".join(f"Line {n} " + "plain words " * (n % 9) for n in range(300))


async def test_plain_text_rewraps_at_new_widths_and_after_edits_as_textual_does() -> None:
    """Plain ASCII lines: what one wrap learnt of them serves the next width, until an edit changes them."""

    class PlainApp(App[None]):
        def compose(self) -> ComposeResult:
            yield Editor(PLAIN, id="editor")

    app = PlainApp()
    async with app.run_test(size=(70, 20)) as pilot:
        editor = app.query_one(Editor)
        assert_consistent(editor)
        for width in (50, 90, 40):
            await pilot.resize_terminal(width, 20)
            await pilot.pause()
            assert_consistent(editor)
        assert len(editor.document.get_line(9)) < 40 and len(editor.document.get_line(18)) < 40
        editor.insert(" now a line long enough to wrap at any of these widths " * 3, (9, 0))
        editor.insert("\ttabbed" * 9, (18, 0))
        assert_consistent(editor)
        for width in (60, 45):
            await pilot.resize_terminal(width, 20)
            await pilot.pause()
            assert_consistent(editor)


async def test_the_length_and_the_recorded_line_edits_follow_typing_undo_and_pastes() -> None:
    app = EditorApp()
    async with app.run_test(size=(60, 20)) as pilot:
        editor = app.query_one(Editor)
        changes = editor.record_changes()
        mirror = editor.document.lines[:]
        assert editor.text_length == len(editor.text)
        editor.move_cursor((30, 5))
        await pilot.press(*"typed", "enter", "enter", "backspace")
        editor.insert("pasted\nover\nthree lines", (3, 2))
        editor.delete((10, 4), (14, 1))
        editor.undo()
        editor.delete((50, 0), (59, 3))
        editor.replace("x\r\ny", (0, 0), (0, 4))  # a foreign newline is split as Textual splits it
        edits = changes.take()
        assert len(edits) < 7  # the keys typed in one place made one edit
        for edit in edits:
            edit.apply(mirror)
        assert "\n".join(mirror) == editor.text
        assert editor.text_length == len(editor.text)
        assert changes.take() == []


def test_a_text_range_is_the_one_textual_gives() -> None:
    import random

    from textual.document._document import Document

    rng = random.Random(4)
    text = "\n".join("".join(rng.choice("ab é\t") for _ in range(rng.randrange(12))) for _ in range(40)) + "\n"
    ours, textual = FastDocument(text), Document(text)
    for _ in range(400):
        rows = [rng.randrange(len(textual.lines)) for _ in range(2)]
        start, end = ((row, rng.randrange(len(textual.lines[row]) + 1)) for row in rows)
        assert ours.get_text_range(start, end) == textual.get_text_range(start, end)


async def test_a_paste_of_many_lines_rewraps_the_whole_document_as_textual_does() -> None:
    from scribe.ui.widgets.fast_document import WHOLE_WRAP_LINES

    class PlainApp(App[None]):
        def compose(self) -> ComposeResult:
            yield Editor(PLAIN, id="editor")

    many = "\n".join(f"pasted {n} " + "word " * (n % 40) for n in range(WHOLE_WRAP_LINES + 500))
    app = PlainApp()
    async with app.run_test(size=(70, 20)) as pilot:
        editor = app.query_one(Editor)
        editor.insert(many, (100, 3))
        await pilot.pause()
        assert editor.document.line_count > WHOLE_WRAP_LINES
        assert_consistent(editor)
        editor.replace("short again\n\ttabbed", editor.document.start, editor.document.end)  # a restore's replace
        assert_consistent(editor)
