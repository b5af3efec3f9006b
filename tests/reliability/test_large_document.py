"""§3, huge documents: a document of a few megabytes (Tiny Shakespeare repeated, with long lines that wrap) opens in
the real studio at its end, shows its first lines after ctrl+home and its last ones after ctrl+end, puts typed text where the cursor is
(start, middle, end, inside a wrapped line) and saves it all. Timings are in bench/ui_latency.py (`--document-mb`)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets.text_area import WrappedDocument

from scribe.config import Settings
from scribe.ui.app import ScribeApp

from .conftest import SIZE

BOOK = Path(__file__).resolve().parents[1] / "data" / "tinyshakespeare.txt"
LAST_LINE = "Here ends the very long document."


def huge_text(megabytes: float) -> str:
    """Numbered lines of Tiny Shakespeare, every 50th joined with the next eleven into one long line that wraps."""
    lines = BOOK.read_text(encoding="utf-8-sig").splitlines()
    out, size, index = [], 0, 0
    while size < megabytes * 1_000_000:
        line = f"{index:07d} " + " ".join(lines[index % len(lines) : index % len(lines) + (12 if index % 50 == 0 else 1)])
        out.append(line)
        size += len(line) + 1
        index += 1
    return "\n".join(out + [LAST_LINE]) + "\n"


def screen_rows(app: ScribeApp) -> list[str]:
    """What the editor draws, row by row."""
    editor = app.editor
    return [editor.render_line(y).text.rstrip() for y in range(editor.size.height)]


async def test_a_huge_document_opens_shows_both_ends_and_takes_typing_where_the_cursor_is(
        settings: Settings, tmp_path: Path) -> None:
    text = huge_text(3)
    first, middle_index = text.split("\n", 1)[0], text.count("\n") // 2
    file = tmp_path / "huge.txt"
    file.write_text(text, encoding="utf-8")
    app = ScribeApp(file, settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        editor = app.editor
        assert editor.cursor_location == editor.document.end  # the studio opens at the end, where writing goes on
        assert LAST_LINE in screen_rows(app)
        assert editor.wrapped_document.height == WrappedDocument(editor.document, editor.wrap_width).height

        await pilot.press("ctrl+home")
        await pilot.pause()
        rows = screen_rows(app)
        assert rows[0].startswith("0000000 First Citizen:") and len(first) > editor.size.width
        assert rows[1] and first.startswith(rows[0]) and rows[1] in first and LAST_LINE not in rows

        await pilot.press("ctrl+end")
        await pilot.pause()
        assert editor.cursor_location == editor.document.end
        assert LAST_LINE in screen_rows(app)
        await pilot.press("up", "end", *" Truly.")
        await pilot.pause()
        assert LAST_LINE + " Truly." in screen_rows(app)

        editor.move_cursor((middle_index, 8))
        await pilot.pause()
        middle = editor.document.get_line(middle_index)
        await pilot.press(*"[here]")
        await pilot.pause()
        assert editor.document.get_line(middle_index) == middle[:8] + "[here]" + middle[8:]
        assert any(row.startswith(f"{middle_index:07d} [here]") for row in screen_rows(app))

        await pilot.press("ctrl+home", *"Title. ")
        wrapped_row = editor.wrapped_document.height  # inside the long first line: its second row, 5th column
        editor.move_cursor(editor.wrapped_document.offset_to_location((4, 1)))
        await pilot.press("#")
        await pilot.pause()
        assert editor.wrapped_document.height == wrapped_row
        rows = screen_rows(app)
        assert rows[0].startswith("Title. 0000000 First Citizen:") and rows[1][4] == "#"

        await pilot.press("ctrl+s")
        await pilot.pause()
    saved = file.read_text(encoding="utf-8")
    assert saved.startswith("Title. 0000000 First Citizen:")
    assert saved.count("#") == text.count("#") + 1
    assert saved.splitlines()[middle_index] == middle[:8] + "[here]" + middle[8:]
    assert saved.endswith(LAST_LINE + " Truly.\n")
    assert len(saved) == len(text) + len("Title. #[here] Truly.")
