"""A Keras model in the studio: it loads in its worker process and streams into the TUI like any other model."""

from __future__ import annotations

from pathlib import Path

from scribe.config import Settings
from scribe.engine.base import StreamEnd, TokenStep
from scribe.sampling.params import SamplingParams
from scribe.ui.app import ScribeApp


async def test_a_trained_keras_model_streams_into_the_studio(trained: dict[str, Path]) -> None:
    settings = Settings(model=str(trained["char-lstm"]), device="auto", dtype="auto", autosave_seconds=3600.0,
                        sampling=SamplingParams(max_new_tokens=12, seed=7))
    app = ScribeApp(settings=settings)
    async with app.run_test(size=(110, 32)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.model_state == "ready", app.status_bar.status
        assert app.backend is not None and app.backend.info.backend == "keras"
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
