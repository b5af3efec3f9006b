"""The remote backend against llama.cpp's own `llama-server`, serving a tiny GGUF Llama written here.

The binary comes from .ci/llama_server.sh (built from the llama.cpp tree that llama-cpp-python's source package
vendors): the tests take it from $SCRIBE_LLAMA_SERVER, or from that script's default cache, and are skipped when
neither has one.
"""

from __future__ import annotations

import math
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("gguf", reason="the gguf package is not installed")

from servers.gguf_model import write_tiny_llama  # noqa: E402

from scribe.engine.base import StreamEnd, TokenStep  # noqa: E402
from scribe.engine.remote_backend import RemoteBackend  # noqa: E402
from scribe.sampling.params import SamplingParams  # noqa: E402
from scribe.store.remotes import RemoteEndpoint, save_remote  # noqa: E402

ALIAS = "tiny-llama"
DEFAULT_BINARY = Path.home() / ".cache" / "scribe" / "llama-server" / "0.3.36" / "llama-server"


def llama_server_binary() -> Path | None:
    configured = os.environ.get("SCRIBE_LLAMA_SERVER")
    binary = Path(configured) if configured else DEFAULT_BINARY
    return binary if binary.is_file() and os.access(binary, os.X_OK) else None


pytestmark = pytest.mark.skipif(llama_server_binary() is None,
                                reason="no llama-server binary (build it with .ci/llama_server.sh, set SCRIBE_LLAMA_SERVER)")


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory):
    """llama-server on 127.0.0.1; yields its root URL."""
    import httpx

    model = write_tiny_llama(tmp_path_factory.mktemp("gguf") / "tiny-llama.gguf")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (tmp_path_factory.mktemp("llama-log") / "server.log").open("w")
    process = subprocess.Popen(
        [str(llama_server_binary()), "-m", str(model), "--alias", ALIAS, "--host", "127.0.0.1", "--port", str(port),
         "-c", "256", "-t", "1", "-np", "1"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, Path(log.name).read_text()[-3000:]
            try:
                if httpx.get(root + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "llama-server did not start"
            time.sleep(0.2)
        yield root
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def backend(root: str, server: str = "llama.cpp") -> RemoteBackend:
    return RemoteBackend(RemoteEndpoint(name="llama", base_url=root, model=ALIAS, server=server))


def run(b: RemoteBackend, params: SamplingParams, **kwargs) -> tuple[list[TokenStep], StreamEnd]:
    items = list(b.stream("Once upon a time", params, **kwargs))
    return items[:-1], items[-1]


@pytest.mark.parametrize("server, suffix", [("llama.cpp", ""), ("openai", "/v1")])
def test_greedy_tokens_stream_with_probabilities_and_alternatives(llama_server, server, suffix):
    steps, end = run(backend(llama_server + suffix, server), SamplingParams(temperature=0.0, max_new_tokens=8),
                     alternatives=3)
    assert (end.reason, end.tokens, end.error) == ("max_tokens", 8, None)
    assert "".join(s.text for s in steps) == end.text and end.text
    for step in steps:
        assert 0 < step.raw_prob <= 1 and step.raw_prob == step.final_prob
        probs = [a.raw_prob for a in step.alternatives]
        assert len(probs) == 3 and probs == sorted(probs, reverse=True)
        assert step.raw_prob == pytest.approx(probs[0], rel=1e-3)  # greedy picks the most likely token


def test_every_sampler_is_applied_natively_and_a_seed_repeats(llama_server):
    b = backend(llama_server)
    params = SamplingParams(temperature=1.0, top_k=30, top_p=0.95, min_p=0.01, typical_p=0.9, repetition_penalty=1.1,
                            frequency_penalty=0.2, presence_penalty=0.1, dry_multiplier=0.8, xtc_probability=0.3,
                            seed=5, max_new_tokens=10)
    assert b.ignored(params) == ()
    first, second = run(b, params)[1], run(b, params)[1]
    assert first.reason == "max_tokens" and first.text == second.text
    mirostat = run(b, SamplingParams(mirostat_tau=3.0, seed=5, max_new_tokens=6))[1]
    assert mirostat.reason == "max_tokens" and mirostat.error is None


def test_a_stop_string_cuts_the_text_and_cancel_stops(llama_server):
    b = backend(llama_server)
    greedy = SamplingParams(temperature=0.0, max_new_tokens=12)
    full = run(b, greedy)[1].text
    stop = full[len(full) // 2 : len(full) // 2 + 2]
    _, end = run(b, greedy.replace(stop=(stop,)))
    assert end.reason == "stop_string" and end.text == full[: full.index(stop)]
    cancel = threading.Event()
    items = []
    for item in b.stream("Once upon a time", greedy, cancel=cancel):
        items.append(item)
        cancel.set()
    assert items[-1].reason == "cancelled" and items[-1].tokens <= 2


def test_load_detect_and_count_tokens_as_the_server_does(llama_server):
    import httpx

    from scribe.engine.remote.detect import detect_server

    assert detect_server(llama_server) == "llama.cpp"
    save_remote(RemoteEndpoint(name="llama", base_url=llama_server, model=ALIAS, server="llama.cpp"))
    b = RemoteBackend.load("", name="remote:llama")
    assert b.info.context_length == 256
    text = "the cat sat on the mat, zebra!"
    tokens = httpx.post(llama_server + "/tokenize", json={"content": text}).json()["tokens"]
    assert b.count_tokens(text) == len(tokens) != math.ceil(len(text) / 4)


@pytest.mark.parametrize("chat", [False, True])
def test_a_chapter_is_counted_in_one_request_as_the_server_counts_each_paragraph(llama_server, chat):
    """The studio counts a chapter's paragraphs in a batch: llama-server tokenizes them joined, once, and each count is
    the one the server gives the paragraph alone (its leading space included); an empty text is asked alone."""
    import random

    from scribe.studio.assembly import paragraphs

    rng = random.Random(2)
    words = "the cat sat on the mat, zebra! naïve — 1843 it's".split()
    chapter = "\n\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(3, 40))) for _ in range(300))
    texts = [*paragraphs(chapter), "", "\n", "solo"]
    b = RemoteBackend(RemoteEndpoint(name="llama", base_url=llama_server, model=ALIAS, server="llama.cpp", chat=chat))
    expected = [b.count_tokens(text) for text in texts]
    assert expected[-1] != math.ceil(len("solo") / 4) and expected[0] > 3  # the server's counts, not estimates
    requests: list[str] = []
    post = b._client.post

    def counted_post(url, **kwargs):
        requests.append(url)
        return post(url, **kwargs)

    b._client.post = counted_post  # the real client and server: only the requests are noted
    assert b.count_tokens_batch(texts) == expected
    assert requests == [llama_server + "/tokenize"] * 2  # the texts joined, then "" alone
