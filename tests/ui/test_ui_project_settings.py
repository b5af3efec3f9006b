"""A project's default settings (the `[settings]` table of scribe-project.toml) apply to its chapters, under a
chapter's own settings; the panel names the scope; a bad table is refused with a message naming the file."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Label
from writing_helpers import SIZE, bundled_settings, rendered, settle

from scribe.studio.layered_settings import save_document_settings
from scribe.ui.app import ScribeApp


def label(app: ScribeApp, name: str) -> str:
    return str(app.settings_panel.query_one(f"#label-{name}", Label).render())


def project(folder: Path, settings: str) -> None:
    folder.mkdir()
    (folder / "01.txt").write_text("The harbour was quiet.\n", encoding="utf-8")
    (folder / "02.txt").write_text("The storm came at night.\n", encoding="utf-8")
    (folder / "scribe-project.toml").write_text(f'chapters = ["01.txt", "02.txt"]\n\n[settings]\n{settings}\n',
                                                encoding="utf-8")


async def test_chapters_take_the_projects_settings_under_their_own(tmp_path: Path, errors) -> None:
    folder = tmp_path / "voyage"
    project(folder, "temperature = 0.55\ndrafts = 5")
    save_document_settings(folder / "02.txt", {"temperature": 0.9})
    app = ScribeApp(folder / "01.txt", settings=bundled_settings())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f2")
        await settle(app, pilot)
        assert app.settings.sampling.temperature == 0.55 and app.settings.drafts == 5
        assert label(app, "temperature") == "temperature · project" and label(app, "drafts") == "drafts · project"
        assert "0.55" in "".join(rendered(app, app.settings_panel.input_for("temperature")))
        app._open_chosen(str(folder / "02.txt"))
        await settle(app, pilot)
        assert app.settings.sampling.temperature == 0.9 and label(app, "temperature") == "temperature · document"
        assert app.settings.drafts == 5 and label(app, "drafts") == "drafts · project"
        assert not errors(app)


async def test_a_bad_settings_table_is_named_and_the_chapter_still_opens(tmp_path: Path, errors) -> None:
    folder = tmp_path / "voyage"
    project(folder, "temperature = -3")
    app = ScribeApp(folder / "01.txt", settings=bundled_settings())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.editor.text.startswith("The harbour was quiet.")
        shown = errors(app)
        assert len(shown) == 1 and "scribe-project.toml: [settings]: " in shown[0] and "temperature" in shown[0]
        assert app.settings.sampling.temperature == bundled_settings().sampling.temperature
