"""The remote backend against a real OpenAI-compatible server: llama-cpp-python's, serving a tiny GGUF Llama written
here with the `gguf` package. Skipped where llama-cpp-python[server] is not installed (it compiles llama.cpp)."""

from __future__ import annotations

import math
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python[server] is not installed")
pytest.importorskip("gguf", reason="the gguf package is not installed")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for the test servers
from servers.gguf_model import write_tiny_llama  # noqa: E402

from scribe.engine.base import StreamEnd, TokenStep  # noqa: E402
from scribe.engine.remote_backend import RemoteBackend  # noqa: E402
from scribe.sampling.params import SamplingParams  # noqa: E402
from scribe.store.remotes import RemoteEndpoint, save_remote  # noqa: E402

pytestmark = pytest.mark.slow  # a real llama.cpp server in a child process

ALIAS = "tiny-llama"


@pytest.fixture(scope="module")
def gguf_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_llama(tmp_path_factory.mktemp("gguf") / "tiny-llama.gguf")


@pytest.fixture(scope="module")
def llama_server(gguf_model: Path, tmp_path_factory: pytest.TempPathFactory):
    """llama-cpp-python's server on 127.0.0.1; yields its base URL."""
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (tmp_path_factory.mktemp("llama-log") / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_model), "--model_alias", ALIAS,
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "256", "--n_threads", "1"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, Path(log.name).read_text()[-3000:]
            try:
                if httpx.get(url + "/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "llama-cpp-python's server did not start"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@pytest.fixture
def backend(llama_server: str) -> RemoteBackend:
    return RemoteBackend(RemoteEndpoint(name="llama", base_url=llama_server, model=ALIAS, server="llama-cpp-python"))


def run(backend: RemoteBackend, params: SamplingParams, **kwargs) -> tuple[list[TokenStep], StreamEnd]:
    items = list(backend.stream("Once upon a time", params, **kwargs))
    return items[:-1], items[-1]


def test_greedy_tokens_stream_with_logprobs(backend):
    steps, end = run(backend, SamplingParams(temperature=0.0, max_new_tokens=8), alternatives=3)
    assert (end.reason, end.tokens, end.error) == ("max_tokens", 8, None)
    assert "".join(s.text for s in steps) == end.text and end.text
    for step in steps:
        assert 0 < step.raw_prob <= 1 and step.raw_prob == step.final_prob
        probs = [a.raw_prob for a in step.alternatives]
        assert 1 <= len(probs) <= 3 and probs == sorted(probs, reverse=True)
        assert step.raw_prob == pytest.approx(probs[0], rel=1e-4)  # greedy picks the most likely token


def test_every_sampling_setting_reaches_the_server_and_a_seed_repeats(backend):
    params = SamplingParams(temperature=1.0, top_k=30, top_p=0.95, min_p=0.01, repetition_penalty=1.1,
                            frequency_penalty=0.2, presence_penalty=0.1, seed=5, max_new_tokens=10)
    assert backend.ignored(params) == ()
    first, second = run(backend, params)[1], run(backend, params)[1]
    assert first.reason == "max_tokens" and first.text == second.text
    mirostat = run(backend, SamplingParams(mirostat_tau=3.0, seed=5, max_new_tokens=6))[1]
    assert mirostat.reason == "max_tokens" and mirostat.error is None


def test_a_stop_string_cuts_the_text_and_cancel_stops(backend):
    greedy = SamplingParams(temperature=0.0, max_new_tokens=12)
    full = run(backend, greedy)[1].text
    stop = full[len(full) // 2 : len(full) // 2 + 2]
    _, end = run(backend, greedy.replace(stop=(stop,)))
    assert end.reason == "stop_string" and end.text == full[: full.index(stop)]

    cancel = threading.Event()
    items = []
    for item in backend.stream("Once upon a time", greedy, cancel=cancel):
        items.append(item)
        cancel.set()
    assert items[-1].reason == "cancelled" and items[-1].tokens <= 2


def test_load_by_name_and_count_tokens_as_the_server_does(llama_server, gguf_model):
    import llama_cpp

    save_remote(RemoteEndpoint(name="llama", base_url=llama_server, model=ALIAS, server="llama-cpp-python"))
    backend = RemoteBackend.load("", name="remote:llama")
    text = "the cat sat on the mat, zebra!"
    vocab = llama_cpp.Llama(str(gguf_model), vocab_only=True, verbose=False)
    assert backend.count_tokens(text) == len(vocab.tokenize(text.encode(), special=True))
    assert not math.isnan(next(iter(backend.stream("the", SamplingParams(max_new_tokens=1)))).raw_prob)
