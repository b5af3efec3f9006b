"""Context tools in the studio, with the bundled model: edited by keys, saved beside the document, shown in the
preview exactly as sent, used by the continuation, and still there after a restart."""

from __future__ import annotations

from pathlib import Path

from scribe.config import Settings
from scribe.sampling.params import SamplingParams
from scribe.studio.context import context_path, load_context
from scribe.ui.app import ScribeApp
from scribe.ui.screens.context_preview import ContextPreviewScreen
from scribe.ui.screens.context_tools import ContextToolsScreen

REPO = Path(__file__).resolve().parents[2]
SIZE = (120, 44)
STORY = "The night was long.\n\nThe lamps burned low.\n\nMara saw a dragon over the water and"


def settings() -> Settings:
    return Settings(model=str(REPO / "models" / "scribe-gutenberg"), device="cpu", dtype="float32",
                    autosave_seconds=3600.0, sampling=SamplingParams(max_new_tokens=8, seed=7))


async def ready(app: ScribeApp, pilot) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert app.model_state == "ready", app.status_bar.status


async def settled(app: ScribeApp, pilot) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def plain(screen, selector: str) -> str:
    return screen.query_one(selector).content.plain


def drawn(widget) -> str:
    """The lines a widget draws on the screen."""
    return "\n".join(widget.render_line(y).text for y in range(widget.size.height))


async def test_tools_are_edited_by_keys_saved_previewed_sent_and_restored(tmp_path: Path) -> None:
    doc = tmp_path / "story.txt"
    doc.write_text(STORY, encoding="utf-8")
    app = ScribeApp(doc, settings=settings())
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("alt+c")
        screen = app.screen
        assert isinstance(screen, ContextToolsScreen)
        await pilot.press(*"A sea story.", "tab", *"[Mood: dread]", "tab", "backspace", "1")  # memory, note, depth
        await pilot.press("alt+n", *"Mara", "tab", *"Mara, the captain")  # entry 1: name, keys
        screen.query_one("#entry-text").focus()
        await pilot.press(*"Mara captains the Heron.")
        await pilot.press("alt+n", *"Bren", "tab", *"Bren")  # entry 2: not in the story
        screen.query_one("#entry-text").focus()
        await pilot.press(*"Bren is a smith.")
        await pilot.pause()
        listed = drawn(screen.query_one("#entries"))
        assert "Mara  Mara, the captain" in listed and "Bren  Bren" in listed
        await pilot.press("escape")
        await settled(app, pilot)

        saved = load_context(context_path(doc))
        assert (saved.memory, saved.note, saved.note_depth) == ("A sea story.", "[Mood: dread]", 1)
        assert [(e.name, e.keys, e.text) for e in saved.lorebook.entries] == [
            ("Mara", ("Mara", "the captain"), "Mara captains the Heron."), ("Bren", ("Bren",), "Bren is a smith.")]

        meter = app.status_bar.render_status().plain
        assert "ctx mem " in meter and "lore×1" in meter and "note " in meter and "story " in meter

        await pilot.press("alt+s")
        await settled(app, pilot)
        preview = app.screen
        assert isinstance(preview, ContextPreviewScreen)
        expected = ("A sea story.\nMara captains the Heron.\nThe night was long.\n\nThe lamps burned low.\n\n"
                    "[Mood: dread]\n\nMara saw a dragon over the water and")
        shown = preview.query_one("#preview-prompt").content
        assert shown.plain == expected
        styles = {shown.plain[span.start:span.end]: str(span.style) for span in shown.spans}
        assert "cyan" in styles["A sea story.\n"] and "green" in styles["Mara captains the Heron.\n"]
        assert "magenta" in styles["\n\n[Mood: dread]"]
        summary = plain(preview, "#preview-summary")
        assert "Mara: key 'Mara' in the story" in summary and "Bren" not in summary
        await pilot.press("escape")

        app.editor.move_cursor(app.editor.document.end)
        await pilot.press("ctrl+j")
        await settled(app, pilot)
        while app.generating:
            await pilot.pause(0.05)
        assert app.run_state is not None and app.run_state.prompt == expected  # what backend.stream was given

    again = ScribeApp(doc, settings=settings())
    async with again.run_test(size=SIZE) as pilot:
        await ready(again, pilot)
        await pilot.press("alt+s")
        await settled(again, pilot)
        assert plain(again.screen, "#preview-prompt") == expected
        await pilot.press("escape", "alt+c")
        await pilot.pause()
        tools = again.screen
        assert isinstance(tools, ContextToolsScreen)
        assert tools.query_one("#memory").text == "A sea story."
        assert tools.query_one("#note").value == "[Mood: dread]"
        assert tools.query_one("#entry-name").value == "Mara"
        tools.query_one("#entries").focus()
        await pilot.press("down", "alt+x")
        await pilot.pause()
        await pilot.press("escape")
        await settled(again, pilot)
    assert [e.name for e in load_context(context_path(doc)).lorebook.entries] == ["Mara"]


async def test_a_bad_depth_is_flagged_and_not_saved(tmp_path: Path) -> None:
    doc = tmp_path / "story.txt"
    doc.write_text(STORY, encoding="utf-8")
    app = ScribeApp(doc, settings=settings())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+c")
        screen = app.screen
        screen.query_one("#note-depth").focus()
        await pilot.press("backspace", "x")
        await pilot.pause()
        assert "not saved: note depth must be a whole number" in drawn(screen.query_one("#context-error"))
        await pilot.press("escape")
        await settled(app, pilot)
    assert not context_path(doc).exists()


async def test_a_chapter_of_a_project_sends_the_shared_tools_and_the_previous_chapters_end(tmp_path: Path) -> None:
    (tmp_path / "scribe-project.toml").write_text(
        'chapters = ["01.txt", "02.txt"]\nmemory = "Shared memory."\nprevious_paragraphs = 1\n', encoding="utf-8")
    (tmp_path / "01.txt").write_text("Chapter one begins.\n\nChapter one ends.\n", encoding="utf-8")
    (tmp_path / "02.txt").write_text("Chapter two.", encoding="utf-8")
    app = ScribeApp(tmp_path / "02.txt", settings=settings())
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        app.editor.move_cursor(app.editor.document.end)
        await pilot.press("alt+s")
        await settled(app, pilot)
        assert plain(app.screen, "#preview-prompt") == "Shared memory.\nChapter one ends.\n\nChapter two."


async def test_the_chapter_list_counts_words_searches_and_opens_another_chapter(tmp_path: Path) -> None:
    (tmp_path / "scribe-project.toml").write_text('chapters = ["01.txt", "02.txt", "03.txt"]\n', encoding="utf-8")
    (tmp_path / "01.txt").write_text("The storm broke.\nMara held on.", encoding="utf-8")
    (tmp_path / "02.txt").write_text("Calm water.", encoding="utf-8")
    (tmp_path / "03.txt").write_text("Land, said Mara, at last.", encoding="utf-8")
    app = ScribeApp(tmp_path / "02.txt", settings=settings())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+u")
        await pilot.pause()
        screen = app.screen
        listed = drawn(screen.query_one("#chapter-list"))
        assert "1  01.txt         6 words" in listed and "2  02.txt         2 words  ◀ open" in listed
        assert "total         13 words" in drawn(screen.query_one("#chapter-total"))
        screen.query_one("#chapter-search").focus()
        await pilot.press(*"mara")
        await pilot.pause()
        hits = drawn(screen.query_one("#chapter-hits"))
        assert "2 line(s)" in hits and "01.txt:2: Mara held on." in hits and "03.txt:1: Land, said Mara, at last." in hits
        screen.query_one("#chapter-list").focus()
        await pilot.press("down", "enter")
        await pilot.pause()
    assert app.next_document == tmp_path / "03.txt"


async def test_compare_sends_the_assembled_prompt_too(tmp_path: Path) -> None:
    from scribe.studio.context import ContextTools, save_context
    from scribe.ui.screens.compare import CompareScreen

    doc = tmp_path / "story.txt"
    doc.write_text(STORY, encoding="utf-8")
    save_context(context_path(doc), ContextTools(memory="A sea story.", note="[Mood: dread]", note_depth=1))
    app = ScribeApp(doc, settings=settings())
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        app.editor.move_cursor(app.editor.document.end)
        expected = "A sea story.\nThe night was long.\n\nThe lamps burned low.\n\n[Mood: dread]\n\nMara saw a dragon over the water and"
        assert app.backend is not None
        sent = app.backend.count_tokens(expected)
        assert sent != app.backend.count_tokens(STORY)
        await pilot.press("f9")
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        await pilot.press("r")
        await screen.workers.wait_for_complete()
        await pilot.pause()
        assert screen.results and all(r.end.prompt_tokens == sent for r in screen.results)


async def test_replaying_a_branch_made_with_context_tools_regenerates_it_exactly(tmp_path: Path) -> None:
    from scribe.studio.context import ContextTools, save_context

    doc = tmp_path / "story.txt"
    doc.write_text(STORY, encoding="utf-8")
    save_context(context_path(doc), ContextTools(memory="A sea story.", note="[Mood: dread]", note_depth=1))
    app = ScribeApp(doc, settings=settings())
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        app.editor.move_cursor(app.editor.document.end)
        await pilot.press("ctrl+j")
        await settled(app, pilot)
        while app.generating:
            await pilot.pause(0.05)
        node = app.branches.current
        assert node is not None and node.text
        await pilot.press("alt+r")
        await settled(app, pilot)
        assert app.last_replay is not None
        replayed, recorded = app.last_replay
        assert replayed == recorded == node.generated
