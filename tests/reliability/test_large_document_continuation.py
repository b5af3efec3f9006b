"""§3, huge documents with a continuation pending: in a document of a few megabytes, the writer types before and at
the mark (where the continuation goes), adds lines and deletes across lines before and after it, and the text is
never joined for it; accepting puts the continuation exactly where the writer expects, on screen and in the saved
file. (Timings: bench/ui_latency.py, the huge document's "continuation pending" phase.)"""

from __future__ import annotations

from pathlib import Path

from textual.widgets.text_area import Selection

from scribe.config import Settings
from scribe.sampling.params import SamplingParams
from scribe.studio.branches import BranchTree, Generation, TokenRecord, sidecar_path
from scribe.ui.app import ScribeApp

CONTINUATION = " and the sea was calm."


def long_lines(megabytes: float) -> str:
    """Numbered short lines (none wraps at the test's width) up to `megabytes` million characters."""
    line = "{:06d} a line of the long document, short enough to fit."
    count = int(megabytes * 1_000_000) // len(line.format(0) + "\n")
    return "\n".join(line.format(n) for n in range(count)) + "\n"


def offered_story(folder: Path, text: str) -> tuple[Path, str]:
    """A document holding `text` and a sidecar with one continuation (of a prompt the document does not start with,
    so showing it marks the cursor)."""
    story = folder / "long.txt"
    story.write_text(text, encoding="utf-8")
    tree = BranchTree()
    root = tree.anchor_for("Elsewhere")
    generation = Generation(model="test", weights_hash=None, params=SamplingParams(seed=1), processor_order=(),
                            alternatives=0)
    node = tree.add(root.id, generation)
    pieces = CONTINUATION.split(" ")[1:]
    tree.finish(node.id, CONTINUATION, tuple(TokenRecord(n, " " + piece, 0.9, 0.9) for n, piece in enumerate(pieces)),
                "length")
    tree.current = node.id
    tree.save(sidecar_path(story))
    return story, node.id


def offset_of(text: str, location: tuple[int, int]) -> int:
    """The character offset of a (row, column) location in `text`."""
    row, column = location
    start = 0
    for _ in range(row):
        start = text.index("\n", start) + 1
    return start + column


def screen_rows(app: ScribeApp) -> list[str]:
    """What the editor draws, row by row."""
    editor = app.editor
    return [editor.render_line(y).text.rstrip() for y in range(editor.size.height)]


async def test_typing_and_deleting_around_a_pending_continuation_in_a_huge_document(settings: Settings,
                                                                                    tmp_path: Path) -> None:
    text = long_lines(3)
    story, node_id = offered_story(tmp_path, text)
    app = ScribeApp(story, settings=settings)
    async with app.run_test(size=(200, 32)) as pilot:  # wide: the lines the edits join do not wrap
        await pilot.pause()
        editor = app.editor
        document = editor.fast_document
        row = editor.document.line_count // 2
        editor.move_cursor((row, 7))
        app.show_node(node_id)
        await pilot.pause()
        assert editor.mark_location == (row, 7) and app.stream_view.text == CONTINUATION
        mark = offset_of(text, (row, 7))

        async def edit(start: tuple[int, int], end: tuple[int, int], keys: list[str], typed: str) -> None:
            """Select start..end (or put the cursor there), press `keys`; the expected text and mark follow."""
            nonlocal text, mark
            first, last = sorted((offset_of(text, start), offset_of(text, end)))
            editor.selection = Selection(start, end)
            await pilot.press(*keys)
            text = text[:first] + typed + text[last:]
            if mark >= last > first or mark > last:  # text typed at the mark goes after it: the mark stays
                mark += len(typed) - (last - first)
            elif mark > first:
                mark = first
            assert document._joined is None, "the text was joined for an edit"
            assert editor.mark == mark and editor.document.get_index_from_location(editor.mark_location) == mark

        await edit((row, 2), (row, 2), list("ABC"), "ABC")  # before the mark on its line
        await edit((row, 10), (row, 10), list("xyz"), "xyz")  # at the mark: after the continuation's place
        await edit((row - 3, 4), (row - 3, 4), ["enter"], "\n")  # a line more before it
        await edit((row - 6, 2), (row - 4, 5), ["backspace"], "")  # two lines fewer before it
        await edit((row - 2, 20), (row - 1, 3), ["backspace"], "")  # a line joined to the one before
        mark_row, mark_column = editor.mark_location
        await edit((mark_row - 1, 8), (mark_row, 4), ["backspace"], "")  # up to its own line, short of it
        await edit((mark_row + 1, 0), (mark_row + 4, 9), ["delete"], "")  # after it: it stays
        await edit((mark_row + 2, 3), (mark_row + 2, 3), ["enter", *"new line", "enter"], "\nnew line\n")
        assert app.stream_view.text == CONTINUATION, "the continuation is still offered"

        await pilot.press("tab")
        await pilot.pause()
        expected = text[:mark] + CONTINUATION + text[mark:]
        assert editor.mark_location is None and document.text == expected
        line = expected[expected.rindex("\n", 0, mark) + 1:expected.index("\n", mark)]
        assert CONTINUATION + "xyz" in line
        assert line in screen_rows(app), "the continuation is on screen where it was inserted"
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert story.read_text(encoding="utf-8") == expected
