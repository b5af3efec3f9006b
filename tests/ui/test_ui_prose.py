"""Continuations arrive as prose: a model trained on hard-wrapped books writes single line breaks inside paragraphs;
with the prose setting on (the default) the pane and the document get them joined, and off they stay. The bundled
model now writes paragraphs itself, so a logit bias on its newline token (id 199) makes it write such lines here."""

from __future__ import annotations

from pathlib import Path

from writing_helpers import SIZE, bundled_settings, finished, pane_text, settle

from scribe.ui.app import ScribeApp

PROMPT = "It was a dark and stormy night; the rain fell in torrents, and the wind"


async def continue_once(tmp_path: Path, prose: bool) -> tuple[str, str, str]:
    story = tmp_path / f"story-{prose}.txt"
    story.write_text(PROMPT, encoding="utf-8")
    app = ScribeApp(story, settings=bundled_settings(max_new_tokens=80, seed=11, logit_bias="199:3").replace(prose=prose))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+j")
        await finished(app, pilot)
        shown, offered = pane_text(app), app.stream_view.text
        await pilot.press("tab")
        return shown, offered, app.editor.text


async def test_single_line_breaks_are_joined_and_what_is_shown_is_inserted(tmp_path: Path) -> None:
    _raw_shown, raw_offered, _ = await continue_once(tmp_path, prose=False)
    assert "\n" in raw_offered.strip("\n"), "the model writes hard-wrapped lines (else this test shows nothing)"
    shown, offered, document = await continue_once(tmp_path, prose=True)
    assert document == PROMPT + offered
    paragraphs = [p for p in offered.split("\n\n")]
    assert all("\n" not in p for p in paragraphs[:-1]) and "\n" not in paragraphs[-1].rstrip("\n")
    assert offered.replace("\n\n", "¶").replace(" ", "") == raw_offered.replace("\n\n", "¶").replace("\n", "").replace(" ", ""), \
        "only line breaks became spaces"
    words = shown.replace("\n", " ").split()  # the pane scrolls: it shows the continuation's last rows
    assert len(words) > 20 and offered.split()[-len(words):] == words, "the pane shows the joined text"
