"""The API key never reaches a message: not whole, not cut short at any position, not when the message is shortened
in the middle of it, whether the server echoes it in an error answer or inside the stream."""

from __future__ import annotations

import json

import pytest
from servers.hostile_server import HostileServer

from scribe.engine.remote.secrets import MIN_PIECE, REDACTED, redact
from scribe.engine.remote_backend import RemoteBackend
from scribe.sampling.params import SamplingParams
from scribe.store.remotes import RemoteEndpoint

KEY = "sk-proj-7fQ2xLm9Vb3RtY8wZk1N"


def longest_piece_of_key(text: str, key: str = KEY) -> int:
    """The length of the longest run of characters of `text` that also occurs in `key`."""
    return max((j - i for i in range(len(text)) for j in range(i + 1, len(text) + 1) if text[i:j] in key), default=0)


@pytest.mark.parametrize("cut", range(1, len(KEY)))
def test_a_key_cut_at_any_position_is_removed(cut):
    for fragment in (KEY[:cut], KEY[cut:], KEY[:cut] + "***" + KEY[-4:]):
        message = f"Incorrect API key provided: {fragment}. You can find your key at https://example.com/keys"
        cleaned = redact(message, KEY)
        assert longest_piece_of_key(cleaned) < MIN_PIECE, (fragment, cleaned)
        if longest_piece_of_key(fragment) >= MIN_PIECE:
            assert REDACTED in cleaned
    assert "https://example.com/keys" in redact("see https://example.com/keys", KEY)  # other text is kept


def test_short_keys_and_no_key():
    assert redact("key abc was wrong", "abc") == f"key {REDACTED} was wrong"
    assert redact("nothing secret here", None) == "nothing secret here"
    assert redact(KEY + KEY, KEY) == REDACTED


@pytest.fixture(scope="module")
def hostile():
    with HostileServer() as server:
        yield server


def backend(server: HostileServer, monkeypatch: pytest.MonkeyPatch) -> RemoteBackend:
    monkeypatch.setenv("HOSTILE_KEY", KEY)
    return RemoteBackend(RemoteEndpoint(name="test", base_url=server.root + "/v1", model="tiny",
                                        api_key_env="HOSTILE_KEY"))


@pytest.mark.parametrize("cut", range(0, len(KEY) + 1))
def test_the_server_echoing_the_key_cut_anywhere_never_leaks_it(hostile, monkeypatch, cut):
    b = backend(hostile, monkeypatch)
    # the full key placed so that shortening the message to its limit would cut it at `cut`
    padding = "p" * (280 - cut)
    hostile.status = 401
    for message in (f"{padding}{KEY} and more", f"bad key {KEY[:cut]}", f"bad key {KEY[cut:]}", f"{KEY[:cut]}\n{KEY[cut:]}"):
        hostile.error_body = json.dumps({"error": {"message": message}})
        end = list(b.stream("x", SamplingParams(max_new_tokens=2)))[-1]
        assert end.reason == "error" and "HTTP 401" in end.error and "$HOSTILE_KEY" in end.error
        assert longest_piece_of_key(end.error) < MIN_PIECE, end.error
    hostile.status = 200


def test_a_key_inside_the_stream_is_removed(hostile, monkeypatch):
    b = backend(hostile, monkeypatch)
    hostile.status, hostile.behaviour = 200, None
    hostile.events = [json.dumps({"choices": [{"text": " ok"}]}), json.dumps({"error": {"message": f"key {KEY[:-3]} expired"}})]
    end = list(b.stream("x", SamplingParams(max_new_tokens=5)))[-1]
    assert end.reason == "error" and "reported an error: key [redacted] expired" in end.error and end.text == " ok"
    hostile.events = [json.dumps({"choices": [{"text": " ok"}]}), json.dumps({"choices": [{"text": {"k": KEY}}]})]
    end = list(b.stream("x", SamplingParams(max_new_tokens=5)))[-1]
    assert end.reason == "error" and longest_piece_of_key(end.error) < MIN_PIECE
