"""A server cannot hang, crash or flood the remote client: an endless stream is cut at the token limit and the
connection closed, a keep-alive trickle times out, the writer's deadline holds, huge lines and deeply nested JSON are
refused, and a malformed answer ends the stream with one line naming what is wrong and the text so far (the generated
malformed answers are in test_remote_malformed.py).
"""

from __future__ import annotations

import json
import time

import pytest
from servers.fake_base import Reply
from servers.hostile_server import HostileServer

from scribe.engine.base import StreamEnd, TokenStep
from scribe.engine.remote_backend import RemoteBackend
from scribe.sampling.params import SamplingParams
from scribe.store.remotes import RemoteEndpoint


@pytest.fixture(scope="module")
def hostile():
    with HostileServer() as server:
        yield server


@pytest.fixture(autouse=True)
def fresh(hostile):
    hostile.events, hostile.behaviour, hostile.status, hostile.sent_tokens = [], None, 200, 0
    hostile.client_left.clear()


def backend(server: HostileServer, kind: str = "openai", **options) -> RemoteBackend:
    root = server.root + ("/v1" if kind in ("openai", "vllm") else "")
    return RemoteBackend(RemoteEndpoint(name="test", base_url=root, model="tiny", server=kind, **options))


def run(b: RemoteBackend, params: SamplingParams | None = None) -> tuple[list[TokenStep], StreamEnd]:
    items = list(b.stream("x", params or SamplingParams(max_new_tokens=20), alternatives=3))
    end = items.pop()
    assert isinstance(end, StreamEnd) and all(isinstance(i, TokenStep) for i in items)
    return items, end


def token_event(text: str) -> dict:
    return {"choices": [{"index": 0, "text": text, "finish_reason": None}]}


def endless_tokens(pace_s: float = 0.0):
    def behaviour(reply: Reply, body: dict) -> None:
        reply.start_stream()
        while True:
            reply.event(token_event(" more"))
            reply.server.sent_tokens += 1
            time.sleep(pace_s)
    return behaviour


def test_an_endless_stream_is_cut_at_the_token_limit_and_the_connection_closed(hostile):
    hostile.behaviour = endless_tokens()
    steps, end = run(backend(hostile), SamplingParams(max_new_tokens=25))
    assert (end.reason, end.tokens, len(steps), end.error) == ("max_tokens", 25, 25, None)
    assert end.text == " more" * 25
    assert hostile.client_left.wait(5.0)


def test_a_server_that_hangs_after_the_last_token_ends_at_the_limit_at_once(hostile):
    def hang(reply: Reply, body: dict) -> None:
        reply.start_stream()
        for _ in range(body["max_tokens"]):
            reply.event(token_event(" word"))
        time.sleep(10)  # no closing event

    hostile.behaviour = hang
    started = time.monotonic()
    _, end = run(backend(hostile, timeout_s=30), SamplingParams(max_new_tokens=5))
    assert (end.reason, end.tokens, end.error) == ("max_tokens", 5, None) and time.monotonic() - started < 3


def test_a_keep_alive_trickle_times_out_and_keeps_the_text(hostile):
    def trickle(reply: Reply, body: dict) -> None:
        reply.start_stream()
        reply.event(token_event(" one"))
        while True:  # comments, other fields and events without text: none of them is text
            reply.chunk(b": keep-alive\n\n")
            reply.chunk(b"event: ping\n\n")
            reply.event({"choices": []})
            time.sleep(0.05)

    hostile.behaviour = trickle
    started = time.monotonic()
    steps, end = run(backend(hostile, timeout_s=0.6))
    assert time.monotonic() - started < 4
    assert end.reason == "error" and end.text == " one" and [s.text for s in steps] == [" one"]
    assert "sent no text for 0.6 s" in end.error and "\n" not in end.error
    assert hostile.client_left.wait(5.0)


def test_the_writers_deadline_ends_a_slow_answer(hostile):
    hostile.behaviour = endless_tokens(pace_s=0.05)
    started = time.monotonic()
    steps, end = run(backend(hostile, timeout_s=30, deadline_s=0.7), SamplingParams(max_new_tokens=100_000))
    assert 0.6 < time.monotonic() - started < 4
    assert end.reason == "error" and "0.7 s deadline" in end.error and steps and end.text == " more" * len(steps)
    assert hostile.client_left.wait(5.0)


def test_a_server_that_never_answers_times_out(hostile):
    hostile.behaviour = lambda reply, body: time.sleep(3)
    started = time.monotonic()
    _, end = run(backend(hostile, timeout_s=0.5))
    assert end.reason == "error" and "sent no text for 0.5 s" in end.error and time.monotonic() - started < 2.5


@pytest.mark.parametrize("kind", ["openai", "llama.cpp", "ollama", "koboldcpp"])
def test_a_huge_line_is_refused_without_reading_it_all(hostile, kind):
    def flood(reply: Reply, body: dict) -> None:
        reply.start_stream()
        first = token_event(" ok") if kind == "openai" else {"content": " ok", "response": " ok", "token": " ok"}
        reply.line(first) if kind == "ollama" else reply.event(first)
        block = b"x" * 65536
        while True:  # one line that never ends
            reply.chunk(block)

    hostile.behaviour = flood
    _, end = run(backend(hostile, kind))
    assert end.reason == "error" and "a line longer than 1024 KiB" in end.error and end.text == " ok"


def test_deeply_nested_json_is_malformed_not_a_crash(hostile):
    hostile.events = [json.dumps(token_event(" ok")), "[" * 200_000, "[DONE]"]
    _, end = run(backend(hostile))
    assert end.reason == "error" and "cannot read" in end.error and end.text == " ok"


def test_an_error_answer_of_any_size_gives_one_short_line(hostile):
    hostile.status, hostile.error_body = 500, json.dumps({"error": {"message": "boom\n" * 10_000}})
    _, end = run(backend(hostile))
    assert end.reason == "error" and "HTTP 500: boom boom" in end.error and len(end.error) <= 500 and "\n" not in end.error
    assert end.error.endswith("; the server failed: see its log")
    hostile.error_body = "<html>\n" + "x" * 3_000_000  # larger than what is read of it
    _, end = run(backend(hostile))
    assert "HTTP 500: <html> xxx" in end.error and len(end.error) <= 500 and "\n" not in end.error


def test_every_kind_of_broken_event_is_named(hostile):
    cases = {
        '{"choices": [{"text": 5}]}': "choices[0].text is 5, not text",
        '{"choices": "many"}': "choices is 'many', not a list",
        '[1, 2]': "the event is [1, 2], not an object",
        '{"choices": [{"text": " y", "logprobs": {"tokens": [" y"], "token_logprobs": [NaN]}}]}':
            "logprobs.token_logprobs[0] is nan, not a log-probability",
        '{"choices": [{"text": " y", "logprobs": {"tokens": [" y"], "token_logprobs": [3.5]}}]}':
            "is 3.5, not a log-probability",
        '{"choices": [{"text": " y", "logprobs": {"tokens": [" y"], "token_logprobs": [-1],'
        ' "top_logprobs": [{" y": -Infinity}]}}]}': "is -inf, not a log-probability",
        '{"usage": {"prompt_tokens": -4}}': "usage.prompt_tokens is -4, not a count",
        'not json': "not JSON",
    }
    for payload, message in cases.items():
        hostile.events = [json.dumps(token_event(" ok")), payload, "[DONE]"]
        _, end = run(backend(hostile))
        assert end.reason == "error" and message in end.error and end.text == " ok", (payload, end.error)
