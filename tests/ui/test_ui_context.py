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


async def test_every_setting_of_a_lorebook_entry_is_edited_by_keys_shown_and_saved(tmp_path: Path) -> None:
    from scribe.studio.context import ContextTools, save_context
    from scribe.studio.lorebook import LoreEntry, Lorebook
    from writing_helpers import rendered

    def shown(screen, selector: str) -> str:
        return " ".join(line.strip() for line in rendered(app, screen.query_one(selector))).strip()

    doc = tmp_path / "story.txt"
    doc.write_text(STORY, encoding="utf-8")
    save_context(context_path(doc), ContextTools(lorebook=Lorebook((
        LoreEntry(keys=("Mara",), text="Mara captains the Heron.", name="Mara"),
        LoreEntry(keys=("Bren",), text="Bren is a smith.", name="Bren", scan_depth=10)))))
    app = ScribeApp(doc, settings=settings())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+c")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ContextToolsScreen)
        assert shown(screen, "#entry-scan-depth") == "lorebook's"  # the first entry has no scan depth of its own
        screen.query_one("#entry-keys").focus()
        await pilot.press("end", *", /capt(ain|'n)/i")  # a regular-expression key
        await pilot.press("tab", *"Heron, ship")  # secondary keys
        await pilot.press("tab", *"250")  # order
        await pilot.press("tab", *"40")  # its own scan depth
        await pilot.press("tab", "space")  # always on
        await pilot.press("tab", "space")  # case-sensitive
        screen.query_one("#recursive").focus()
        await pilot.press("space")
        await pilot.pause()
        assert shown(screen, "#entry-keys") == "Mara, /capt(ain|'n)/i"
        assert shown(screen, "#entry-secondary") == "Heron, ship"
        assert (shown(screen, "#entry-order"), shown(screen, "#entry-scan-depth")) == ("250", "40")
        assert screen.query_one("#entry-always").value and screen.query_one("#entry-case").value
        assert "Mara  always" in drawn(screen.query_one("#entries"))

        screen.query_one("#entry-keys").focus()
        await pilot.press("end", *", /([/")
        await pilot.pause()
        error = drawn(screen.query_one("#context-error"))
        assert "not saved: key '/([/': not a valid regular expression" in error
        await pilot.press(*["backspace"] * 6)
        await pilot.pause()
        assert drawn(screen.query_one("#context-error")).strip() == ""

        screen.query_one("#entries").focus()
        await pilot.press("down")  # the second entry's fields
        await pilot.pause()
        assert shown(screen, "#entry-name") == "Bren" and shown(screen, "#entry-scan-depth") == "10"
        assert not screen.query_one("#entry-case").value
        screen.query_one("#entry-scan-depth").focus()
        await pilot.press("backspace")  # blank: the lorebook's scan depth again
        await pilot.press("escape")
        await settled(app, pilot)

    file = context_path(doc)
    saved = load_context(file).lorebook
    mara, bren = saved.entries
    assert (mara.keys, mara.secondary_keys) == (("Mara", "/capt(ain|'n)/i"), ("Heron", "ship"))
    assert (mara.order, mara.scan_depth, mara.always, mara.case_sensitive) == (250, 40, True, True)
    assert (bren.name, bren.scan_depth) == ("Bren", None)
    assert saved.recursive
    raw = file.read_text(encoding="utf-8")
    assert 'secondary_keys = [\n    "Heron",' in raw or 'secondary_keys = ["Heron", "ship"]' in raw

    app = ScribeApp(doc, settings=settings())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+c")
        await pilot.pause()
        screen = app.screen
        assert shown(screen, "#entry-secondary") == "Heron, ship" and shown(screen, "#entry-scan-depth") == "40"
        assert screen.query_one("#entry-case").value and screen.query_one("#recursive").value


def three_chapters(folder: Path) -> None:
    """A project of three chapters with a shared memory; the third has its own author's note and settings."""
    from scribe.studio.context import ContextTools, save_context
    from scribe.studio.layered_settings import save_document_settings

    (folder / "scribe-project.toml").write_text('chapters = ["01.txt", "02.txt", "03.txt"]\n'
                                                'memory = "Shared memory."\ninclude_previous = false\n',
                                                encoding="utf-8")
    (folder / "01.txt").write_text("The storm broke.\nMara held on.", encoding="utf-8")
    (folder / "02.txt").write_text("Calm water.", encoding="utf-8")
    (folder / "03.txt").write_text("Land, said Mara, at last.", encoding="utf-8")
    save_context(context_path(folder / "03.txt"), ContextTools(note="[Mood: relief]", note_depth=0))
    save_document_settings(folder / "03.txt", {"drafts": 5})


def editor_lines(app: ScribeApp) -> str:
    """What the screen shows in the editor, trailing blanks dropped."""
    from writing_helpers import rendered

    return "\n".join(line.rstrip() for line in rendered(app, app.editor)).rstrip()


async def test_the_chapter_list_counts_words_searches_and_opens_another_chapter_in_place(tmp_path: Path) -> None:
    three_chapters(tmp_path)
    app = ScribeApp(tmp_path / "01.txt", settings=settings())
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        backend = app.backend
        app.editor.move_cursor(app.editor.document.end)
        await pilot.press(*" Then calm.")  # unsaved when the chapter is switched: saved first
        await pilot.press("alt+u")
        await pilot.pause()
        screen = app.screen
        listed = drawn(screen.query_one("#chapter-list"))
        assert "1  01.txt         8 words  ◀ open" in listed and "2  02.txt         2 words" in listed
        assert "total         15 words" in drawn(screen.query_one("#chapter-total"))
        screen.query_one("#chapter-search").focus()
        await pilot.press(*"mara")
        await pilot.pause()
        hits = drawn(screen.query_one("#chapter-hits"))
        assert "2 line(s)" in hits and "01.txt:2: Mara held on. Then calm." in hits
        assert "03.txt:1: Land, said Mara, at last." in hits
        screen.query_one("#chapter-list").focus()
        await pilot.press("down", "down", "enter")
        await settled(app, pilot)

        assert (tmp_path / "01.txt").read_text(encoding="utf-8") == "The storm broke.\nMara held on. Then calm."
        assert app.document.path == tmp_path / "03.txt" and app.editor.border_title == "03.txt"
        assert editor_lines(app) == "Land, said Mara, at last."
        assert app.backend is backend and app.model_state == "ready", "the model was not loaded again"
        assert app.settings.drafts == 5, "the chapter's own settings apply"
        await pilot.press("alt+s")
        await settled(app, pilot)
        assert plain(app.screen, "#preview-prompt") == "Shared memory.\nLand, said Mara, at last.\n[Mood: relief]\n"
        await pilot.press("escape", "alt+u")
        await pilot.pause()
        assert "3  03.txt         5 words  ◀ open" in drawn(app.screen.query_one("#chapter-list"))
        app.screen.query_one("#chapter-list").focus()
        await pilot.press("home", "down", "enter")  # back to the second: the project's tools, no note of its own
        await settled(app, pilot)
        assert editor_lines(app) == "Calm water." and app.backend is backend
        assert app.settings.drafts == 3
        await pilot.press("alt+s")
        await settled(app, pilot)
        assert plain(app.screen, "#preview-prompt") == "Shared memory.\nCalm water."


async def test_a_chapter_changed_on_disk_is_asked_about_and_nothing_is_lost(tmp_path: Path) -> None:
    from scribe.ui.screens.save_conflict import SaveConflictScreen

    three_chapters(tmp_path)
    app = ScribeApp(tmp_path / "01.txt", settings=settings())
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        app.editor.move_cursor(app.editor.document.end)
        await pilot.press(*" Mine.")
        (tmp_path / "01.txt").write_text("Changed elsewhere.", encoding="utf-8")
        await pilot.press("alt+u")
        await pilot.pause()
        app.screen.query_one("#chapter-list").focus()
        await pilot.press("down", "enter")
        await settled(app, pilot)
        assert isinstance(app.screen, SaveConflictScreen)
        await pilot.press("escape")
        await settled(app, pilot)
        assert app.document.path == tmp_path / "01.txt"
        assert editor_lines(app) == "The storm broke.\nMara held on. Mine."
        assert (tmp_path / "01.txt").read_text(encoding="utf-8") == "Changed elsewhere."


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
