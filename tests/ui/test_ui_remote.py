"""A remote model in the studio (pilot), served by an OpenAI-compatible server on 127.0.0.1 that sends no logprobs."""

from __future__ import annotations

import math

import pytest

from scribe.config import Settings
from scribe.store.remotes import RemoteEndpoint, save_remote
from scribe.ui.app import ScribeApp
from scribe.ui.widgets.stream_view import StreamView, quoted


@pytest.fixture
def server():
    from servers.openai_server import CompletionServer

    with CompletionServer() as server:
        server.logprobs = False
        yield server


@pytest.fixture
def app(settings: Settings, server) -> ScribeApp:
    """The studio on a remote endpoint "lab" served by `server`."""
    save_remote(RemoteEndpoint(name="lab", base_url=server.url, model=server.model, context_length=128))
    return ScribeApp(settings=settings.replace(model="remote:lab"))


async def ready(app: ScribeApp, pilot) -> None:  # noqa: ANN001
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_unknown_probabilities_show_as_question_marks(app: ScribeApp) -> None:
    async with app.run_test(size=(110, 32)) as pilot:
        await ready(app, pilot)
        assert app.model_state == "ready" and app.status_bar.status.model == "remote:lab"
        await pilot.press(*"Once", "ctrl+j")
        while app.generating:
            await pilot.pause(0.05)
        await app.workers.wait_for_complete()
        await pilot.pause()
        steps = app.stream_view.steps
        assert steps and all(math.isnan(step.raw_prob) for step in steps), "the server sent no logprobs"
        last = app.stream_view.query_one("#stream-alternatives").content.plain
        assert last == f"last {quoted(steps[-1].text)} ?  ", "an unknown probability is '?', never nan or a percentage"
        await pilot.press("f3")
        await pilot.pause()
        assert isinstance(app.focused, StreamView)
        inspector = app.stream_view.query_one("#stream-alternatives").content.plain
        assert "before filters ?  after ?" in inspector and "nan" not in inspector.lower()
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is app.editor
        assert app.stream_view.query_one("#stream-alternatives").content.plain == last, "leaving the inspector"


async def test_settings_the_server_cannot_apply_are_shown_unavailable(app: ScribeApp) -> None:
    from textual.widgets import Label

    async with app.run_test(size=(110, 32)) as pilot:
        await ready(app, pilot)
        panel = app.settings_panel
        await pilot.press("f2")  # the panel builds its rows when it first opens
        await pilot.pause()
        assert app.backend is not None and "min_p" in app.backend.unsupported and "top_p" not in app.backend.unsupported
        assert panel.query_one("#label-min_p", Label).has_class("-unavailable")
        assert "unavailable with remote:lab" in str(panel.input_for("min_p").tooltip)
        assert not panel.query_one("#label-top_p", Label).has_class("-unavailable")
        assert app.apply_setting("min_p", "0.1")
        await pilot.pause()
        assert app.settings.sampling.min_p == 0.1
        assert any("min_p: not applied by remote:lab" in str(n.message) for n in app._notifications)
        app.apply_setting("model", "scribe-gutenberg")  # a local model applies everything: the marks go
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.model_state == "ready"
        assert not panel.query_one("#label-min_p", Label).has_class("-unavailable")
        assert "unavailable" not in str(panel.input_for("min_p").tooltip)
