"""The tokens before the cursor of a large document: only a tail of several times the model's context is counted,
and the status bar says the count is a lower bound."""

from __future__ import annotations

from scribe.config import Settings
from scribe.ui.app import COUNT_TAIL_CHARS_PER_TOKEN, ScribeApp, tail_start

SIZE = (130, 32)


def test_tail_start_walks_back_over_lines_counting_newlines() -> None:
    lines = ["abc", "de", "fghij"]  # "abc\nde\nfghij"
    assert tail_start(lines, (2, 5), 3) == (2, 2)
    assert tail_start(lines, (2, 5), 6) == (1, 2)
    assert tail_start(lines, (2, 5), 9) == (0, 3)
    assert tail_start(lines, (2, 5), 12) == (0, 0)
    assert tail_start(lines, (2, 5), 100) == (0, 0)
    text = "\n".join(lines)
    for chars in range(0, 13):
        row, column = tail_start(lines, (2, 5), chars)
        start = sum(len(line) + 1 for line in lines[:row]) + column
        assert text[start:] == text[len(text) - chars:]


async def _counted(app: ScribeApp, pilot) -> None:
    await pilot.pause(0.6)
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_a_large_document_shows_a_bounded_count_and_a_short_one_an_exact_count(settings: Settings) -> None:
    app = ScribeApp(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.model_state == "ready" and app.backend is not None
        context = app.backend.info.context_length
        assert context == 1024
        line = "the" + " the" * 19  # 20 tokens and 79 characters, 80 with its newline
        lines = 50_000  # 4 MB, 1,000,000 tokens: far more than the tail of 16 characters per token of context
        app.editor.load_text("\n".join([line] * lines))
        app.editor.move_cursor(app.editor.document.end)
        await _counted(app, pilot)
        status = app.status_bar.status
        tail = context * COUNT_TAIL_CHARS_PER_TOKEN
        assert status.count_bounded
        assert tail // 4 <= status.context_tokens <= tail // 3  # about one token per 4 characters of the tail
        rendered = app.status_bar.render_status().plain
        assert f"more than {status.context_tokens}/1024 tokens before cursor" in rendered, rendered
        assert f"✂ more than {status.context_tokens - status.prompt_budget} cut" in rendered, rendered

        app.editor.load_text(line)
        app.editor.move_cursor(app.editor.document.end)
        await _counted(app, pilot)
        status = app.status_bar.status
        assert (status.context_tokens, status.count_bounded, status.cut) == (20, False, 0)
        rendered = app.status_bar.render_status().plain
        assert "  20/1024 tokens before cursor" in rendered and "more than" not in rendered, rendered
