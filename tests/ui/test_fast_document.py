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
