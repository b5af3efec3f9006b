"""The studio's tools in the real app: the token inspector, presets, compare, the lens and the context budget,
themes, keys, the help screen and the command palette."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

from scribe.config import Paths, Settings
from scribe.studio.branches import BranchTree, sidecar_path
from scribe.studio.presets import BUILTIN
from scribe.ui.app import ScribeApp
from scribe.ui.screens.compare import CompareScreen
from scribe.ui.screens.help import HelpScreen
from scribe.ui.screens.presets import PresetScreen
from scribe.ui.widgets.stream_view import StreamView, quoted

SIZE = (110, 32)


async def ready(app: ScribeApp, pilot) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert app.model_state == "ready", app.status_bar.status


async def settled(app: ScribeApp, pilot) -> None:
    while app.generating:
        await pilot.pause(0.05)
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_the_inspector_shows_what_each_filter_removed_and_branches_from_an_alternative(
        settings: Settings, tmp_path: Path) -> None:
    app = ScribeApp(settings=settings.replace(sampling=settings.sampling.replace(top_k=2)))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press(*"Dear diary")
        await pilot.press("ctrl+j")
        await settled(app, pilot)
        node = app.branches.current
        assert node is not None
        await pilot.press("f3")
        view = app.stream_view
        assert isinstance(app.focused, StreamView) and view.inspected == (node.id, 7)
        await pilot.press("left", "left", "left", "left", "left")
        assert view.inspected == (node.id, 2)
        token = node.tokens[2]
        fates = [alt.removed_by for alt in token.alternatives]
        assert fates[:2] == [None, None] and fates[2:] == ["top_k"] * 3, "top_k=2 keeps the two most likely"
        panel = view.query_one("#stream-alternatives").content.plain
        assert "removed by top_k" in panel and "before filters" in panel
        for alt in token.alternatives:
            assert quoted(alt.text)[:18] in panel
        await pilot.press("down", "down", "enter")
        await settled(app, pilot)
        branch = app.branches.current
        picked = token.alternatives[2]
        assert branch is not None and branch.parent == node.parent and app.focused is app.editor
        assert branch.prefix == node.tokens[0].text + node.tokens[1].text + picked.text
        assert app.branches.tree.prompt_of(branch.id) == "Dear diary" + branch.prefix
        assert app.stream_view.text == branch.text and branch.text.startswith(branch.prefix)
        await pilot.press("tab")
        assert app.editor.text == "Dear diary" + branch.text
        await pilot.press("ctrl+s", *str(tmp_path / "diary.txt"), "enter")
        await app.workers.wait_for_complete()
        saved = BranchTree.load(sidecar_path(tmp_path / "diary.txt"))
        assert saved.node(branch.id).accepted, "an untitled document's tree is saved beside it once it has a name"


async def test_presets_switch_save_and_compare_side_by_side(settings: Settings, scribe_home: Path) -> None:
    app = ScribeApp(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert app.status_bar.status.preset == ""
        await pilot.press("f8")
        assert isinstance(app.screen, PresetScreen)
        await pilot.press("down", "enter")
        assert app.settings.sampling.temperature == BUILTIN["balanced"]["temperature"]
        assert app.settings.sampling.seed == 7 and app.settings.sampling.max_new_tokens == 8
        assert app.status_bar.status.preset == "balanced"
        await pilot.press("alt+p")
        assert app.status_bar.status.preset == "creative" and app.settings.sampling.min_p == 0.05
        app.apply_setting("temperature", "1.0")
        assert app.status_bar.status.preset == "", "a changed setting no longer matches the preset"
        app.apply_setting("temperature", "1.05")
        assert app.status_bar.status.preset == "creative"
        await pilot.press("f8", "tab", *"noir", "enter")
        saved = Paths.discover().config / "presets" / "noir.toml"
        assert tomllib.loads(saved.read_text())["min_p"] == 0.05
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Preset: noir", "Preset: wild", "Compare (f9)", "Next preset (alt+p)"} <= set(titles)

        await pilot.press(*"The storm")
        await pilot.press("f9")
        screen = app.screen
        assert isinstance(screen, CompareScreen) and screen.seed == 7
        await pilot.press("r")
        await screen.workers.wait_for_complete()
        await pilot.pause()
        results = screen.results
        assert [r.preset for r in results] == ["precise", "balanced", "creative"]
        assert {r.params.seed for r in results} == {7} and all(r.end.tokens == 8 for r in results)
        texts = [r.end.text for r in results]
        divergence = screen.divergence
        assert divergence is not None and len({t[:divergence] for t in texts}) == 1
        assert len({t[divergence : divergence + 1] for t in texts}) > 1
        assert f"diverge at character {divergence}" in screen.query_one("#compare-summary").content.plain
        await pilot.press("2")
        node = app.branches.current
        assert node is not None and node.text == texts[1] and node.generation.params == results[1].params
        assert app.stream_view.text == texts[1]
        await pilot.press("tab")
        assert app.editor.text == "The storm" + texts[1]


async def test_the_lens_colours_the_text_and_the_context_budget_shows_what_is_cut(settings: Settings) -> None:
    app = ScribeApp(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert app.backend is not None and app.backend.info.context_length == 1024
        text = "the" + " the" * 1099  # one token each, so 1,100 tokens
        app.editor.load_text(text)
        app.editor.move_cursor(app.editor.document.end)
        await pilot.pause(0.6)
        await app.workers.wait_for_complete()
        await pilot.pause()
        status = app.status_bar.status
        assert (status.context_tokens, status.prompt_budget, status.cut) == (1100, 1016, 84)
        assert "first 84 cut" in app.status_bar.render_status().plain
        assert any("the first 84 are cut" in n.message for n in app._notifications)

        await pilot.press("ctrl+l")
        await app.workers.wait_for_complete()
        await pilot.pause()
        lens = app.lens_view
        assert lens.display and not app.editor.display
        assert len(lens.scores) == 1100 and lens.cut_tokens == 84
        shown = lens.query_one("#lens-text").content
        assert shown.plain == text
        struck = [span for span in shown.spans if "strike" in str(span.style)]
        assert struck[-1].end == len("the" + " the" * 83)
        assert "perplexity" in lens.query_one("#lens-summary").content.plain
        assert all(math.isfinite(s.logprob) for s in lens.scores)
        await pilot.press("ctrl+l")
        assert not lens.display and app.editor.display and app.focused is app.editor


async def test_themes_are_files_and_the_choice_is_saved(settings: Settings) -> None:
    app = ScribeApp(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        assert {"scribe-dark", "scribe-light", "scribe-high-contrast"} <= set(app.available_themes)
        await pilot.press("alt+t", *"scribe-high-contrast")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.theme == "scribe-high-contrast" and app.current_theme.background == "#000000"
        saved = tomllib.loads(Paths.discover().config_file.read_text())
        assert saved["theme"] == "scribe-high-contrast"
    again = ScribeApp(settings=settings.replace(theme="scribe-light"))
    async with again.run_test(size=SIZE):
        assert again.theme == "scribe-light" and not again.current_theme.dark


async def test_help_lists_every_key_with_remapping_and_remapped_keys_work(settings: Settings) -> None:
    app = ScribeApp(settings=settings.replace(keys={"tree": "alt+z", "inspect_branch": "b"}))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        rows = {(row.where, row.id): row for row in app.screen.rows}
        assert rows[("studio", "tree")].keys == "alt+z" and rows[("studio", "continue")].keys == "ctrl+enter,ctrl+j,alt+enter"
        assert rows[("token inspector (f3)", "inspect_branch")].keys == "b"
        assert all(row.help for row in rows.values()), "every key says what it does"
        studio_ids = {row.id for row in app.screen.rows if row.where == "studio"}
        assert {"extend", "prev_branch", "lens", "compare", "presets", "export", "theme", "help", "attention"} <= studio_ids
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("alt+z")
        assert any("no branches yet" in n.message for n in app._notifications), "alt+z now opens the tree"
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        await commands["Presets (f8)"].callback()  # runs once the editor has taken the keys before it
        await pilot.pause()
        assert isinstance(app.screen, PresetScreen), "a palette entry runs its action"
        await pilot.press("escape")
        titles = set(commands)
        for action in ("Continue", "Extend", "Previous branch", "Tree (alt+z)", "Inspect", "Replay", "Lens", "Export",
                       "Keys (f1)", "Theme", "Quit"):
            assert any(t.startswith(action) for t in titles), action
