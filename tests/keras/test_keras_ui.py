"""Keras models in the TUI: a trained one loads in its worker process while the status bar says TensorFlow is starting
and the editor stays usable, then streams into the studio; the training screen trains one in a job process."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from textual.app import App
from textual.widgets import RichLog

from scribe.config import Settings
from scribe.engine.base import StreamEnd, TokenStep
from scribe.sampling.params import SamplingParams
from scribe.ui.app import ScribeApp
from scribe.engine.keras_backend import LOADING_NOTICE
from scribe.ui.screens.training import TrainingScreen

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ui"))
from writing_helpers import rendered  # noqa: E402


async def test_a_trained_keras_model_streams_into_the_studio(trained: dict[str, Path]) -> None:
    settings = Settings(model=str(trained["char-lstm"]), device="auto", dtype="auto", autosave_seconds=3600.0,
                        sampling=SamplingParams(max_new_tokens=12, seed=7))
    app = ScribeApp(settings=settings)
    async with app.run_test(size=(110, 32)) as pilot:
        deadline = time.monotonic() + 60
        while LOADING_NOTICE not in "".join(rendered(app, app.status_bar)) and time.monotonic() < deadline:
            await pilot.pause(0.05)
        bar = "".join(rendered(app, app.status_bar))
        assert app.model_state == "loading" and f"● {LOADING_NOTICE}" in bar, bar
        await pilot.press(*"Hi")  # the editor answers while the worker starts TensorFlow
        assert app.editor.text == "Hi" and app.model_state == "loading"
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.model_state == "ready", app.status_bar.status
        assert app.backend is not None and app.backend.info.backend == "keras"
        assert "TensorFlow" not in "".join(rendered(app, app.status_bar)), "the notice goes once the model is ready"
        app.editor.load_text("ROMEO:\n")
        app.editor.move_cursor((1, 0))
        await pilot.press("ctrl+enter")
        await app.workers.wait_for_complete()
        while app.generating:
            await pilot.pause(0.05)
        view = app.stream_view
        assert view.end is not None and view.end.reason == "max_tokens" and view.end.tokens == 12
        assert len(view.steps) == 12 and all(isinstance(s, TokenStep) and s.alternatives for s in view.steps)
        continuation = view.text
        assert continuation == "".join(s.text for s in view.steps) and len(continuation) == 12
        await pilot.press("tab")
        assert app.editor.text == "ROMEO:\n" + continuation
        again = list(app.backend.stream("ROMEO:\n", settings.sampling))[-1]
        assert isinstance(again, StreamEnd) and again.text == continuation


class Host(App[None]):
    def __init__(self, screen: TrainingScreen) -> None:
        super().__init__()
        self.training = screen

    def on_mount(self) -> None:
        self.push_screen(self.training)


async def test_the_training_screen_trains_a_keras_architecture(shakespeare_slice: Path, scribe_home: Path) -> None:
    from scribe.store.catalog import list_models

    screen = TrainingScreen(files=str(shakespeare_slice), base="mini-gpt:tiny", name="bard-gpt", max_steps=4,
                            context=16, batch_size=8)
    app = Host(screen)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.click("#start")
        assert screen.running
        await app.workers.wait_for_complete()
        await pilot.pause()
        finished = screen.curve.finished
        assert screen.curve.error is None and finished is not None and finished.steps == 4
        assert [step for step, _ in screen.curve.val] == [1, 2, 3, 4] and len(screen.curve.train) >= 1
        assert len(screen.query_one("#sample-log", RichLog).lines) >= 4 * 5  # five temperatures at each evaluation
        folder = scribe_home / "data" / "models" / "bard-gpt"
        assert (folder / "model.keras").is_file()
        assert "bard-gpt" in {e.name for e in list_models(offered=False) if e.usable and e.kind == "keras"}
