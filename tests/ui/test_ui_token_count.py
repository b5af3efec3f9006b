"""The status bar's tokens before the cursor are counted with the assembly's cached counter: the rendered count is the
model's count of the text before the cursor after typing and after moving, and a pause after typing at the end of a
long chapter counts only the paragraph that changed."""

from __future__ import annotations

import random

from scribe.config import Settings
from scribe.ui.app import ScribeApp

SIZE = (130, 32)
WORDS = "the night was long and lamps burned low over the quay while gulls cried, she said: it's 1843".split()


async def _counted(app: ScribeApp, pilot) -> None:
    await pilot.pause(0.6)
    await app.workers.wait_for_complete()
    await pilot.pause()


def _before_cursor(app: ScribeApp) -> str:
    return app.editor.get_text_range((0, 0), app.editor.cursor_location)


def _rendered_count(app: ScribeApp) -> str:
    return app.status_bar.render_status().plain


async def test_the_status_bar_counts_the_text_before_the_cursor_by_cached_paragraphs(settings: Settings) -> None:
    rng = random.Random(4)
    chapter = "\n\n".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 30))) for _ in range(120))
    app = ScribeApp(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        backend = app.backend
        assert app.model_state == "ready" and backend is not None
        app.editor.load_text(chapter)
        app.editor.move_cursor(app.editor.document.end)
        await _counted(app, pilot)
        expected = backend.count_tokens(chapter)
        assert expected > 1024  # more than the context: the count is the whole text's all the same (not bounded)
        assert f"  {expected}/1024 tokens before cursor" in _rendered_count(app), _rendered_count(app)

        cached = app.context._counter(backend)._counts
        before = set(cached)
        app.editor.focus()
        await pilot.press("space", "g", "u", "l", "l", "s", "enter", "enter", "s", "e", "a")
        await _counted(app, pilot)
        text = _before_cursor(app)
        assert text.endswith(" gulls\n\nsea") and text.startswith(chapter[:100])
        assert f"  {backend.count_tokens(text)}/1024 tokens before cursor" in _rendered_count(app)
        new = set(app.context._counter(backend)._counts) - before
        assert 1 <= len(new) <= 2 and all(len(piece) < 300 for piece in new), new  # the changed paragraph, the new one

        app.editor.move_cursor((40, 7))  # inside a paragraph in the middle
        await _counted(app, pilot)
        text = _before_cursor(app)
        assert 0 < len(text) < len(chapter) // 2 and not text.endswith("\n")
        assert f"  {backend.count_tokens(text)}/1024 tokens before cursor" in _rendered_count(app)
