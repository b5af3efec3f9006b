"""The studio (pilot) streaming from the fakes of llama.cpp's server and Ollama: the alternatives line shows the
server's probabilities and alternatives as percentages; an Ollama too old for log-probabilities shows "?"."""

from __future__ import annotations

import math

import pytest
from servers.fake_base import SCRIPT, logprob
from servers.llamacpp_server import LlamaCppServer
from servers.ollama_server import OllamaServer

from scribe.config import Settings
from scribe.store.remotes import RemoteEndpoint, save_remote
from scribe.ui.app import ScribeApp
from scribe.ui.widgets.stream_view import quoted


async def stream_once(app: ScribeApp) -> str:
    async with app.run_test(size=(120, 32)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.model_state == "ready", app.status_bar.status
        await pilot.press(*"Once", "ctrl+j")
        while app.generating:
            await pilot.pause(0.05)
        await app.workers.wait_for_complete()
        await pilot.pause()
        return app.stream_view.query_one("#stream-alternatives").content.plain


@pytest.mark.parametrize("fake, kind, model", [(LlamaCppServer, "llama.cpp", "tiny"), (OllamaServer, "ollama", "qwen2.5:7b")])
async def test_the_alternatives_line_shows_the_servers_probabilities(settings: Settings, fake, kind, model) -> None:
    with fake(model=model) as server:
        save_remote(RemoteEndpoint(name="lab", base_url=server.root, model=model, server=kind))
        app = ScribeApp(settings=settings.replace(model="remote:lab", alternatives=3))
        line = await stream_once(app)
    n = settings.sampling.max_new_tokens  # 8 tokens of the script
    last = n - 1
    assert line.startswith(f"last {quoted(SCRIPT[last])} {math.exp(logprob(last, 0)):.0%}")
    assert "alternatives" in line and " alt1" in line and " alt2" in line and "?" not in line


async def test_an_old_ollama_shows_unknown_probabilities(settings: Settings) -> None:
    with OllamaServer(version="0.5.7") as server:
        save_remote(RemoteEndpoint(name="old", base_url=server.root, model="qwen2.5:7b", server="ollama"))
        line = await stream_once(ScribeApp(settings=settings.replace(model="remote:old")))
    assert line == f"last {quoted(SCRIPT[settings.sampling.max_new_tokens - 1])} ?  "
