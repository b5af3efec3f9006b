"""The remote backend against an OpenAI-compatible server on 127.0.0.1 that streams, and misbehaves on purpose."""

from __future__ import annotations

import dataclasses
import math
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for the test servers
from servers.openai_server import SCRIPT, CompletionServer, logprob  # noqa: E402

from scribe.engine.base import ModelLoadError, ModelNotFound, StreamEnd, TokenStep  # noqa: E402
from scribe.engine.remote_backend import RemoteBackend  # noqa: E402
from scribe.sampling.params import SamplingParams  # noqa: E402
from scribe.store.remotes import RemoteEndpoint, save_remote  # noqa: E402


@pytest.fixture
def server():
    with CompletionServer() as s:
        yield s


def backend_for(srv: CompletionServer, **options) -> RemoteBackend:
    return RemoteBackend(RemoteEndpoint(name="test", base_url=srv.url, model=srv.model, **options))


def run(backend: RemoteBackend, params: SamplingParams, **kwargs) -> tuple[list[TokenStep], StreamEnd]:
    items = list(backend.stream("Once upon a time", params, **kwargs))
    end = items.pop()
    assert isinstance(end, StreamEnd) and all(isinstance(i, TokenStep) for i in items)
    return items, end


def test_tokens_stream_with_probabilities_and_alternatives_from_logprobs(server):
    steps, end = run(backend_for(server), SamplingParams(max_new_tokens=5), alternatives=3)

    assert [s.text for s in steps] == list(SCRIPT[:5]) and end.text == "".join(SCRIPT[:5])
    assert (end.reason, end.tokens, end.error, end.prompt_tokens) == ("max_tokens", 5, None, 4)
    assert [s.index for s in steps] == list(range(5))
    assert steps[2].raw_prob == pytest.approx(math.exp(logprob(2, 0))) == steps[2].final_prob
    alternatives = steps[2].alternatives
    assert [a.text for a in alternatives] == [SCRIPT[2], " alt1", " alt2"]
    assert alternatives[1].raw_prob == pytest.approx(math.exp(logprob(2, 1)))
    assert server.requests[-1]["logprobs"] == 3 and server.requests[-1]["stream"] is True


def test_the_server_ending_the_text_is_eos(server):
    steps, end = run(backend_for(server), SamplingParams(max_new_tokens=50))
    assert (end.reason, end.text) == ("eos", "".join(SCRIPT))


def test_without_logprobs_probabilities_are_unknown(server):
    server.logprobs = False
    steps, end = run(backend_for(server), SamplingParams(max_new_tokens=3))
    assert [s.text for s in steps] == list(SCRIPT[:3]) and all(math.isnan(s.raw_prob) for s in steps)
    assert all(s.alternatives == () for s in steps)


ALL_SETTINGS = {f.name for f in dataclasses.fields(SamplingParams)}
STANDARD = {"temperature", "top_p", "frequency_penalty", "presence_penalty", "seed", "max_new_tokens", "stop"}


def test_sampling_settings_map_onto_the_server_and_the_rest_are_unsupported(server):
    params = SamplingParams(temperature=0.7, top_k=20, top_p=0.9, min_p=0.05, typical_p=0.8, repetition_penalty=1.2,
                            frequency_penalty=0.5, presence_penalty=0.25, seed=7, max_new_tokens=4, no_repeat_ngram_size=3,
                            dry_multiplier=0.8, xtc_probability=0.5, mirostat_tau=5.0)
    openai = backend_for(server)
    run(openai, params)
    sent = server.requests[-1]
    assert {k: sent[k] for k in ("temperature", "top_p", "frequency_penalty", "presence_penalty", "seed", "max_tokens")} == {
        "temperature": 0.7, "top_p": 0.9, "frequency_penalty": 0.5, "presence_penalty": 0.25, "seed": 7, "max_tokens": 4}
    assert set(sent) == {"model", "prompt", "stream", "logprobs", "stream_options", "temperature", "top_p",
                         "frequency_penalty", "presence_penalty", "seed", "max_tokens"}
    assert openai.unsupported == ALL_SETTINGS - STANDARD
    assert openai.ignored(params) == ("dry_multiplier", "min_p", "mirostat_tau", "no_repeat_ngram_size",
                                      "repetition_penalty", "top_k", "typical_p", "xtc_probability")
    assert openai.ignored(SamplingParams()) == ()
    assert "top_k" in openai.info.extra["unsupported"]

    python_server = backend_for(server, server="llama-cpp-python")
    run(python_server, SamplingParams(max_new_tokens=2))
    assert (server.requests[-1]["mirostat_mode"], server.requests[-1]["repeat_penalty"]) == (0, 1.0)
    assert {"typical_p", "dry_multiplier", "xtc_probability"} <= python_server.unsupported

    vllm = backend_for(server, server="vllm")
    run(vllm, SamplingParams(top_k=0, max_new_tokens=2))
    assert server.requests[-1]["top_k"] == -1 and server.requests[-1]["repetition_penalty"] == 1.0
    assert vllm.unsupported == ALL_SETTINGS - STANDARD - {"top_k", "min_p", "repetition_penalty"}


def test_a_stop_string_ends_the_stream_and_closes_the_connection(server):
    server.pace_s = 0.05
    steps, end = run(backend_for(server), SamplingParams(max_new_tokens=50, stop=(" the m",)))
    assert (end.reason, end.text) == ("stop_string", " The cat sat on")
    assert "".join(s.text for s in steps) == end.text
    assert server.client_left.wait(3.0)
    assert server.sent_tokens < len(SCRIPT)


def test_cancel_stops_a_stalled_stream_at_once_and_keeps_the_text(server):
    server.fault, server.fault_after = "stall", 2
    cancel = threading.Event()
    items = []
    started = time.monotonic()
    for item in backend_for(server, timeout_s=30).stream("x", SamplingParams(max_new_tokens=9), cancel=cancel):
        items.append(item)
        if len(items) == 2:
            cancel.set()
    end = items[-1]
    assert (end.reason, end.text, end.error) == ("cancelled", "".join(SCRIPT[:2]), None)
    assert time.monotonic() - started < 5
    assert server.client_left.wait(3.0)


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("drop", "broke in the middle of the answer"),
        ("invalid_json", "cannot read"),
        ("no_done", "ended before it was complete"),
    ],
)
def test_broken_streams_end_with_an_error_and_keep_the_text(server, fault, message):
    server.fault, server.fault_after = fault, 3
    steps, end = run(backend_for(server), SamplingParams(max_new_tokens=9))
    assert end.reason == "error" and message in end.error and "remote 'test'" in end.error
    assert end.text == "".join(SCRIPT[:3]) == "".join(s.text for s in steps)


def test_a_stalled_server_times_out(server):
    server.fault, server.fault_after = "stall", 1
    steps, end = run(backend_for(server, timeout_s=0.5), SamplingParams(max_new_tokens=9))
    assert end.reason == "error" and "sent no text for 0.5 s" in end.error and end.text == SCRIPT[0]


def test_http_errors_and_connection_refused(server):
    server.status = 500
    _, end = run(backend_for(server), SamplingParams(max_new_tokens=3))
    assert end.reason == "error" and "HTTP 500: failure number 500; the server failed" in end.error and end.text == ""

    server.status = None
    _, end = run(RemoteBackend(RemoteEndpoint(name="test", base_url=server.url, model="other")), SamplingParams())
    assert "HTTP 404" in end.error and "model 'other'" in end.error

    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _, end = run(RemoteBackend(RemoteEndpoint(name="gone", base_url=f"http://127.0.0.1:{port}", model="m")), SamplingParams())
    assert end.reason == "error" and "cannot connect to" in end.error and "connection refused" in end.error


def test_the_api_key_comes_from_the_environment_and_never_shows(monkeypatch):
    with CompletionServer(api_key="sk-right-key-0001") as server:
        monkeypatch.setenv("TEST_REMOTE_KEY", "sk-wrong-key-0002")
        backend = backend_for(server, api_key_env="TEST_REMOTE_KEY")
        _, end = run(backend, SamplingParams(max_new_tokens=2))
        assert "HTTP 401" in end.error and "$TEST_REMOTE_KEY" in end.error
        assert "sk-wrong-key-0002" not in end.error and "[redacted]" in end.error  # the server echoed the key
        assert "sk-" not in repr(backend.endpoint) and "sk-" not in repr(backend.info)

        monkeypatch.setenv("TEST_REMOTE_KEY", "sk-right-key-0001")
        _, end = run(backend_for(server, api_key_env="TEST_REMOTE_KEY"), SamplingParams(max_new_tokens=2))
        assert end.reason == "max_tokens" and server.authorizations[-1] == "Bearer sk-right-key-0001"

        monkeypatch.delenv("TEST_REMOTE_KEY")
        with pytest.raises(ModelLoadError, match=r"\$TEST_REMOTE_KEY, which is not set"):
            backend_for(server, api_key_env="TEST_REMOTE_KEY")


def test_load_by_name_checks_the_server_and_reads_its_context_length(server):
    save_remote(RemoteEndpoint(name="local", base_url=server.url, model=server.model))
    backend = RemoteBackend.load("", name="remote:local", device="auto", dtype="auto", trust_remote_code=False)
    assert (backend.info.name, backend.info.context_length, backend.info.backend) == ("remote:local", 128, "remote")
    assert backend.count_tokens("four words in here") == 5  # estimate for a plain OpenAI server
    assert backend_for(server, server="vllm").count_tokens("four words in here") == 4  # the server's own count

    save_remote(RemoteEndpoint(name="wrong", base_url=server.url, model="nope"))
    with pytest.raises(ModelLoadError, match="serves tiny, not 'nope'"):
        RemoteBackend.load("", name="remote:wrong")
    with pytest.raises(ModelNotFound, match="no remote endpoint 'absent'"):
        RemoteBackend.load("", name="remote:absent")
