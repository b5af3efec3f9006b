"""Remote endpoint configuration: validation, the TOML file, and keys that never get written."""

from __future__ import annotations

import pytest

from scribe.config import ConfigError
from scribe.engine.base import ModelNotFound
from scribe.store.remotes import RemoteEndpoint, delete_remote, get_remote, load_remotes, remotes_file, save_remote


def test_round_trip_through_the_file():
    box = RemoteEndpoint(name="box", base_url="http://10.0.0.2:8000/", model="llama", server="llama.cpp",
                         api_key_env="BOX_KEY", timeout_s=30)
    save_remote(box)
    save_remote(RemoteEndpoint(name="plain", base_url="https://api.example.com/v1", model="m"))
    assert load_remotes() == {"box": RemoteEndpoint("box", "http://10.0.0.2:8000", "llama", "llama.cpp", "BOX_KEY", None, 30.0),
                              "plain": RemoteEndpoint("plain", "https://api.example.com/v1", "m")}
    assert get_remote("remote:box").api_root == "http://10.0.0.2:8000/v1"
    assert get_remote("plain").api_root == "https://api.example.com/v1" and get_remote("plain").server_root == "https://api.example.com"
    delete_remote("box")
    assert list(load_remotes()) == ["plain"]
    with pytest.raises(ModelNotFound, match="configured: plain"):
        get_remote("box")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "../x"}, "remote name"),
        ({"base_url": "ftp://host"}, "http:// or https://"),
        ({"base_url": "http://user:sk-123@host/v1"}, "must not contain credentials"),
        ({"base_url": "http://host/v1?key=sk-1"}, "query"),
        ({"model": " "}, "model must name"),
        ({"server": "tgi"}, "server must be one of"),
        ({"api_key_env": "sk-abc-123"}, "NAME of an environment variable"),
        ({"context_length": 0}, "context_length"),
        ({"timeout_s": -1}, "timeout_s"),
        ({"timeout_s": float("nan")}, "timeout_s"),
        ({"deadline_s": 0}, "deadline_s"),
        ({"deadline_s": float("inf")}, "deadline_s"),
        ({"chat": "yes"}, "chat must be true or false"),
        ({"chat": True, "server": "ollama"}, "no chat endpoint"),
        ({"banned_phrases": ["x"]}, "only a koboldcpp server bans phrases"),
        ({"banned_phrases": "x", "server": "koboldcpp"}, "list of non-empty strings"),
        ({"banned_phrases": ["ok", ""], "server": "koboldcpp"}, "list of non-empty strings"),
    ],
)
def test_invalid_endpoints_are_refused_without_echoing_secrets(fields, message):
    values = {"name": "box", "base_url": "http://host/v1", "model": "m", **fields}
    with pytest.raises(ConfigError, match=message) as error:
        RemoteEndpoint(**values)
    assert "sk-" not in str(error.value)


def test_a_key_written_into_the_file_is_refused_and_not_repeated():
    file = remotes_file()
    file.parent.mkdir(parents=True)
    file.write_text('[remote.box]\nbase_url = "http://h/v1"\nmodel = "m"\napi_key = "sk-oops-123"\n')
    with pytest.raises(ConfigError, match="keys are not kept in files") as error:
        load_remotes()
    assert "sk-oops" not in str(error.value)
    file.write_text('[remote.box]\nbase_url = "http://h/v1"\nmodel = "m"\ncolour = "red"\n')
    with pytest.raises(ConfigError, match="unknown key"):
        load_remotes()


def test_the_key_is_read_from_the_environment_when_asked(monkeypatch):
    endpoint = RemoteEndpoint(name="box", base_url="http://h", model="m", api_key_env="BOX_KEY")
    monkeypatch.delenv("BOX_KEY", raising=False)
    assert endpoint.api_key() is None
    monkeypatch.setenv("BOX_KEY", "sk-1")
    assert endpoint.api_key() == "sk-1" and "sk-1" not in repr(endpoint)


def test_deadline_chat_and_bans_round_trip_through_the_file():
    kobold = RemoteEndpoint(name="kobold", base_url="http://h:5001", model="m", server="koboldcpp", deadline_s=90,
                            banned_phrases=["suddenly", "a shiver ran"])
    chat = RemoteEndpoint(name="chat", base_url="http://h/v1", model="m", server="vllm", chat=True)
    save_remote(kobold)
    save_remote(chat)
    text = remotes_file().read_text()
    assert 'banned_phrases = [\n    "suddenly",' in text or 'banned_phrases = ["suddenly", "a shiver ran"]' in text
    assert "chat = true" in text and "deadline_s = 90.0" in text
    loaded = load_remotes()
    assert loaded == {"kobold": kobold, "chat": chat}
    assert loaded["kobold"].banned_phrases == ("suddenly", "a shiver ran") and loaded["kobold"].deadline_s == 90.0
