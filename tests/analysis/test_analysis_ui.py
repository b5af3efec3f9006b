"""The attention, distribution and sweep views in the real TUI (pilot), on real models, and on a remote backend that
has no attention to show."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import DataTable, Static

from scribe.config import Settings
from scribe.sampling.params import SamplingParams
from scribe.ui.app import ScribeApp
from scribe.ui.screens.analysis import AnalysisScreen
from scribe.ui.screens.attention import AttentionScreen
from scribe.ui.screens.distribution import DistributionScreen
from scribe.ui.screens.sweep import SweepScreen

SIZE = (120, 40)
TEXT = "Once upon a time there was a dragon who lived in a cave"


def settings_for(model: Path, **sampling: object) -> Settings:
    return Settings(model=str(model), device="cpu", dtype="float32", autosave_seconds=3600.0,
                    sampling=SamplingParams(max_new_tokens=6, seed=5, **sampling))  # type: ignore[arg-type]


def shown(app: ScribeApp, selector: str) -> str:
    """The plain text a Static on the current screen shows."""
    console = Console(width=SIZE[0], color_system=None, record=True)
    console.print(app.screen.query_one(selector, Static).content)
    return console.export_text()


async def studio_with_text(app: ScribeApp, pilot) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert app.model_state == "ready"
    app.editor.load_text(TEXT)
    app.editor.move_cursor(app.editor.document.end)


async def settled(app: ScribeApp, pilot) -> AnalysisScreen:
    """Wait until the analysis view shows its details or a message."""
    screen = app.screen
    assert isinstance(screen, AnalysisScreen)
    for _ in range(400):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if screen.detail is not None and screen.message is None or screen.message and "analysing" not in screen.message:
            return screen
    raise AssertionError("the analysis view never settled")


async def test_attention_view_moves_over_tokens_layers_and_heads(heads_dir: Path) -> None:
    app = ScribeApp(settings=settings_for(heads_dir))
    async with app.run_test(size=SIZE) as pilot:
        await studio_with_text(app, pilot)
        await pilot.press("f6")
        screen = await settled(app, pilot)
        assert isinstance(screen, AttentionScreen) and screen.message is None
        assert screen.analysed is not None
        last = len(screen.analysed.ids) - 1
        assert screen.position == last and screen.row is not None and screen.row.position == last
        assert "layer 0 (1/2) · mean of heads" in shown(app, "#analysis-title")
        assert "attends most to" in shown(app, "#analysis-detail") and "mean" in shown(app, "#analysis-detail")

        await pilot.press("left", "left")
        await settled(app, pilot)
        assert screen.row.position == last - 2 and len(screen.row.tokens) == last - 1
        await pilot.press("right_square_bracket", "equals_sign", "equals_sign")
        assert (screen.layer_index, screen.head_index) == (1, 1)
        assert "layer 1 (2/2) · head 2/3" in shown(app, "#analysis-title")
        assert screen.token_weights() == list(screen.row.row(1, 1))
        await pilot.press("minus", "minus", "minus", "m", "right_square_bracket")
        assert (screen.layer_index, screen.head_index) == (0, None)
        await pilot.press("home")
        await settled(app, pilot)
        assert screen.row.position == 0 and screen.row.row(0, None) == pytest.approx((1.0,))
        await pilot.press("escape")
        assert not isinstance(app.screen, AnalysisScreen)


async def test_distribution_view_shows_the_cuts_of_the_current_settings(heads_dir: Path) -> None:
    app = ScribeApp(settings=settings_for(heads_dir, top_k=5, temperature=1.0))
    async with app.run_test(size=SIZE) as pilot:
        await studio_with_text(app, pilot)
        await pilot.press("f7")
        screen = await settled(app, pilot)
        assert isinstance(screen, DistributionScreen) and screen.message is None
        detail = shown(app, "#analysis-detail")
        assert "top_k cuts: keeps 5" in detail and "top_k keeps 5" in detail
        dist = screen.detail
        assert len(dist.candidates) == 20 and [c.removed_by for c in dist.candidates[:6]] == [None] * 5 + ["top_k"]
        assert dist.actual is None  # the last token: nothing follows it yet
        await pilot.press("left")
        await settled(app, pilot)
        assert screen.detail.actual is not None and "next in the text" in shown(app, "#analysis-detail")


async def test_views_of_a_continuation_and_of_an_empty_text(heads_dir: Path) -> None:
    app = ScribeApp(settings=settings_for(heads_dir))
    async with app.run_test(size=SIZE) as pilot:
        await studio_with_text(app, pilot)
        await pilot.press("ctrl+j")
        for _ in range(400):
            await app.workers.wait_for_complete()
            await pilot.pause()
            if not app.generating:
                break
        assert app.stream_view.text
        await pilot.press("f7")
        screen = await settled(app, pilot)
        assert screen.analysed is not None and screen.analysed.prompt_length < len(screen.analysed.ids)
        assert "in the continuation" in shown(app, "#analysis-title")
        await pilot.press("escape", "ctrl+r")
        app.editor.load_text("")
        await pilot.press("f6")
        screen = await settled(app, pilot)
        assert screen.message is not None and "nothing to analyse" in screen.message


async def test_sweep_view_fills_the_table_and_lists_samples(tiny_dir: Path) -> None:
    app = ScribeApp(settings=settings_for(tiny_dir))
    async with app.run_test(size=SIZE) as pilot:
        await studio_with_text(app, pilot)
        await pilot.press("f5")
        screen = app.screen
        assert isinstance(screen, SweepScreen)
        screen.query_one("#grid-1").value = "temperature=0.5,1.0"
        screen.query_one("#grid-2").value = "top_k=5,50"
        screen.query_one("#samples").value = "2"
        screen.query_one("#tokens").value = "4"
        await pilot.press("enter")
        for _ in range(600):
            await pilot.pause(0.05)
            if not screen.running:
                break
        assert "done: 4 of 4 cells" in shown(app, "#sweep-status")
        table = screen.query_one("#sweep-table", DataTable)
        assert table.row_count == 4 and [c.settings for c in screen.cells][1] == {"temperature": 0.5, "top_k": 50}
        await pilot.press("tab")
        await pilot.pause()
        samples = shown(app, "#sweep-samples-text")
        assert "seed 5" in samples and "seed 6" in samples
        screen.query_one("#grid-1").value = "seed=1,2"
        screen.action_run()
        assert "cannot sweep 'seed'" in shown(app, "#sweep-status")


@pytest.fixture
def remote_server():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from servers.openai_server import CompletionServer

    with CompletionServer() as server:
        yield server


async def test_a_remote_model_explains_why_attention_and_distributions_are_unavailable(tiny_dir: Path,
                                                                                        remote_server) -> None:
    from scribe.engine.remote_backend import RemoteBackend
    from scribe.store.remotes import RemoteEndpoint

    app = ScribeApp(settings=settings_for(tiny_dir))
    async with app.run_test(size=SIZE) as pilot:
        await studio_with_text(app, pilot)
        app.backend.close()
        app.backend = RemoteBackend(RemoteEndpoint(name="test", base_url=remote_server.url, model=remote_server.model))
        for key, kind in (("f6", AttentionScreen), ("f7", DistributionScreen)):
            await pilot.press(key)
            screen = await settled(app, pilot)
            assert isinstance(screen, kind) and screen.analysed is None
            assert "unavailable" in screen.message and "remote server" in shown(app, "#analysis-detail")
            await pilot.press("escape")
        await pilot.press("f5")  # sweeps only stream, so they work on a remote model too
        screen = app.screen
        screen.query_one("#grid-1").value = "temperature=0.5,1.0"
        screen.query_one("#samples").value = "2"
        screen.query_one("#tokens").value = "3"
        await pilot.press("enter")
        for _ in range(400):
            await pilot.pause(0.05)
            if not screen.running:
                break
        assert len(screen.cells) == 2 and all(s.tokens == 3 for c in screen.cells for s in c.samples)
        app.backend.close()
        app.backend = None


async def test_evaluation_view_compares_models_on_the_same_file(tiny_dir: Path, tmp_path: Path) -> None:
    from scribe.ui.screens.evaluation import EvaluationScreen

    text = tmp_path / "text.txt"
    text.write_text("The sea was calm. The sky was grey, and the boats came home before the storm.\n", encoding="utf-8")
    app = ScribeApp(settings=settings_for(tiny_dir))
    async with app.run_test(size=SIZE) as pilot:
        await studio_with_text(app, pilot)
        await pilot.press("alt+v")
        screen = app.screen
        assert isinstance(screen, EvaluationScreen)
        assert screen.query_one("#eval-models").value == str(tiny_dir)
        screen.query_one("#eval-models").value = f"no-such-model, {tiny_dir}"
        screen.query_one("#eval-files").value = str(text)
        screen.query_one("#eval-speed").value = "4"
        await pilot.press("enter")
        for _ in range(800):
            await pilot.pause(0.05)
            if not screen.running:
                break
        assert [row["model"] for row in screen.rows] == ["tiny-random-gpt2"]
        assert screen.rows[0]["tokens_per_s"] > 0 and screen.rows[0]["perplexity"] > 1
        assert screen.query_one("#eval-table", DataTable).row_count == 1
        assert list(screen.failures) == ["no-such-model"]  # a failing model leaves the others to run
        assert "1 model(s) scored · not scored: no-such-model: no model 'no-such-model'" in shown(app, "#eval-status")
