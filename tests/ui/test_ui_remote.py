"""A remote model in the studio (pilot), served by an OpenAI-compatible server on 127.0.0.1 that sends no logprobs."""

from __future__ import annotations

import math

import pytest

from scribe.config import Settings
from scribe.store.remotes import RemoteEndpoint, save_remote
from scribe.ui.app import ScribeApp
from scribe.ui.widgets.stream_view import StreamView


@pytest.fixture
def server():
    from servers.openai_server import CompletionServer

    with CompletionServer() as server:
        server.logprobs = False
        yield server


async def test_unknown_probabilities_show_as_question_marks(settings: Settings, server) -> None:
    save_remote(RemoteEndpoint(name="lab", base_url=server.url, model=server.model, context_length=128))
    app = ScribeApp(settings=settings.replace(model="remote:lab"))
    async with app.run_test(size=(110, 32)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.model_state == "ready" and app.status_bar.status.model == "remote:lab"
        await pilot.press(*"Once", "ctrl+j")
        while app.generating:
            await pilot.pause(0.05)
        await app.workers.wait_for_complete()
        await pilot.pause()
        steps = app.stream_view.steps
        assert steps and all(math.isnan(step.raw_prob) for step in steps), "the server sent no logprobs"
        last = app.stream_view.query_one("#stream-alternatives").content.plain
        assert last == f"last {steps[-1].text!r} ?  ", "an unknown probability is '?', never nan or a percentage"
        await pilot.press("f3")
        await pilot.pause()
        assert isinstance(app.focused, StreamView)
        inspector = app.stream_view.query_one("#stream-alternatives").content.plain
        assert "before filters ?  after ?" in inspector and "nan" not in inspector.lower()
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is app.editor
        assert app.stream_view.query_one("#stream-alternatives").content.plain == last, "leaving the inspector"
