"""The model list: what each source contributes, read from real model folders and a real (local) hub download."""

from __future__ import annotations

import shutil

import pytest

from scribe.config import Paths, hf_cache_dir
from scribe.engine.base import ModelNotFound
from scribe.store.catalog import find_model, list_models
from scribe.store.hub import TransferInterrupted, folder_size, pull
from scribe.store.known import KNOWN_MODELS
from scribe.store.remotes import RemoteEndpoint, save_remote


def by_name(entries):
    return {e.name: e for e in entries}


def test_a_pulled_model_is_listed_with_size_parameters_context_and_tokenizer(hub, tiny_model, tiny_parameters):
    hub.add_folder("tiny-org/tiny-gpt2", tiny_model)
    pulled = pull("tiny-org/tiny-gpt2")

    entry = find_model("tiny-org/tiny-gpt2")
    assert (entry.source, entry.kind, entry.usable, entry.status) == ("hf-cache", "transformers", True, "ready")
    assert entry.location == str(pulled.path)
    assert entry.size_bytes == folder_size(hf_cache_dir() / "models--tiny-org--tiny-gpt2") >= pulled.total_bytes
    assert entry.parameters == tiny_parameters
    assert entry.context_length == 128
    assert entry.tokenizer == "GPT2Tokenizer, 1024 tokens"


def test_a_half_downloaded_model_is_never_listed_as_usable(hub, tiny_model):
    hub.add_folder("tiny-org/tiny-gpt2", tiny_model)
    hub.cut("model.safetensors", after_bytes=1_100_000)
    with pytest.raises(TransferInterrupted):
        pull("tiny-org/tiny-gpt2", retries=0)

    (entry,) = [e for e in list_models() if e.name.startswith("tiny-org/tiny-gpt2")]
    assert not entry.usable
    assert entry.status.startswith("incomplete: no weights") and "pull tiny-org/tiny-gpt2@" in entry.status

    pull("tiny-org/tiny-gpt2")
    assert find_model("tiny-org/tiny-gpt2").usable


def test_the_gpt2_family_is_offered_by_name_until_it_is_downloaded(hub, tiny_model):
    offered = [e for e in list_models() if e.source == "offered"]
    assert [e.name for e in offered] == [m.name for m in KNOWN_MODELS]
    assert {"gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "distilgpt2", "smollm2-360m", "qwen2.5-0.5b"} <= {e.name for e in offered}
    gpt2 = find_model("gpt2")
    assert (gpt2.usable, gpt2.status, gpt2.size_is_download, gpt2.location) == (False, "not downloaded", True,
                                                                               "openai-community/gpt2")
    assert 500e6 < gpt2.size_bytes < 600e6 and find_model("gpt2-xl").size_bytes > 6e9

    hub.add_folder("openai-community/gpt2", tiny_model)  # the local hub plays the part
    pull("gpt2")
    entry = find_model("gpt2")
    assert (entry.name, entry.source, entry.usable, entry.aliases) == ("openai-community/gpt2", "hf-cache", True, ("gpt2",))
    assert "gpt2" not in by_name(list_models())


def test_scribe_trained_models_and_their_completeness(tiny_model, sharded_model):
    models = Paths.discover().models
    shutil.copytree(tiny_model, models / "my-novel")
    shutil.copytree(sharded_model, models / "sharded")
    shutil.copytree(sharded_model, models / "broken")
    next((models / "broken").glob("model-*.safetensors")).unlink()
    (models / "not-a-model").mkdir()

    entries = by_name(e for e in list_models() if e.source == "scribe")
    assert set(entries) == {"my-novel", "sharded", "broken"}
    assert entries["my-novel"].usable and entries["sharded"].usable
    assert entries["sharded"].parameters == entries["my-novel"].parameters
    assert not entries["broken"].usable and "weight file(s) missing" in entries["broken"].status
    assert entries["my-novel"].size_bytes == folder_size(models / "my-novel")


def test_remote_endpoints_are_listed(monkeypatch):
    save_remote(RemoteEndpoint(name="box", base_url="http://10.0.0.2:8000/v1", model="llama", server="vllm",
                               api_key_env="BOX_KEY", context_length=4096))
    entry = find_model("remote:box")
    assert (entry.source, entry.kind, entry.location, entry.context_length) == ("remote", "remote", "http://10.0.0.2:8000/v1", 4096)
    assert "$BOX_KEY" in entry.description


def test_unknown_names():
    with pytest.raises(ModelNotFound, match="no model 'nothing-here'"):
        find_model("nothing-here")
