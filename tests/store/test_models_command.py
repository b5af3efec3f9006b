"""`scribe models list | info | pull | rm | add-remote`, parsed and run as the command line does."""

from __future__ import annotations

import argparse
import io
import json

import pytest

from scribe.cli import CommandError
from scribe.commands import models as command
from scribe.config import Paths, hf_cache_dir
from scribe.engine.base import EngineError
from scribe.store.hub import DownloadProgress
from scribe.store.remotes import load_remotes, remotes_file


def scribe_models(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="scribe")
    command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["models", *argv])
    return args.run(args)


def test_pull_shows_progress_then_list_info_and_rm(hub, tiny_model, capsys):
    hub.add_folder("openai-community/gpt2", tiny_model)

    assert scribe_models("pull", "gpt2") == 0
    out, err = capsys.readouterr()
    snapshot = out.strip()
    assert snapshot.startswith(str(hf_cache_dir() / "models--openai-community--gpt2" / "snapshots"))
    assert "pulling openai-community/gpt2 (main)" in err and "model.safetensors (5/5" in err and "5 files" in err

    assert scribe_models("list") == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:7] == ["NAME", "SOURCE", "STATUS", "SIZE", "PARAMS", "CONTEXT", "TOKENIZER"]
    row = next(line for line in table if line.startswith("openai-community/gpt2 (gpt2)"))
    assert "hf-cache" in row and "ready" in row and "128" in row and snapshot in row
    offered = next(line for line in table if line.startswith("gpt2-xl "))
    assert "not downloaded" in offered and "GB download" in offered and "1.56B" in offered

    assert scribe_models("list", "--json") == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {"name", "source", "usable", "size_bytes", "parameters", "context_length", "tokenizer", "location"} <= set(records[0])

    assert scribe_models("info", "gpt2") == 0
    info = capsys.readouterr().out
    assert "openai-community/gpt2" in info and "context length  128 tokens" in info and "usable          yes" in info

    assert scribe_models("rm", "gpt2", "--yes") == 0
    assert "removed openai-community/gpt2" in capsys.readouterr().err
    assert not (hf_cache_dir() / "models--openai-community--gpt2").exists()


def test_failures_are_one_line_errors(hub, tiny_model):
    with pytest.raises(EngineError, match="no repository nobody/nothing"):
        scribe_models("pull", "nobody/nothing")
    with pytest.raises(EngineError, match="is not a repository name"):
        scribe_models("pull", "../../etc")
    with pytest.raises(CommandError, match="gpt2-large is not downloaded"):
        scribe_models("rm", "gpt2-large")
    with pytest.raises(EngineError, match="no model 'ghost'"):
        scribe_models("info", "ghost")


def test_trained_models_are_deleted_only_when_confirmed(tiny_model, capsys):
    import shutil

    target = Paths.discover().models / "mine"
    shutil.copytree(tiny_model, target)
    with pytest.raises(CommandError, match="pass --yes"):
        scribe_models("rm", "mine")
    assert target.exists()
    assert scribe_models("rm", "mine", "--yes") == 0
    assert not target.exists()


def test_remote_endpoints_are_added_listed_and_forgotten_without_storing_keys(monkeypatch, capsys):
    monkeypatch.setenv("BOX_KEY", "sk-live-secret-999")
    assert scribe_models("add-remote", "box", "http://127.0.0.1:9/v1", "--model", "m", "--server", "vllm",
                         "--api-key-env", "BOX_KEY") == 0
    assert "remote:box" in capsys.readouterr().err
    assert "sk-live" not in remotes_file().read_text() and "BOX_KEY" in remotes_file().read_text()
    assert load_remotes()["box"].server == "vllm"
    scribe_models("list")
    assert "remote:box" in capsys.readouterr().out
    with pytest.raises(ValueError, match="NAME of an environment variable") as bad:
        scribe_models("add-remote", "bad", "http://x/v1", "--model", "m", "--api-key-env", "sk-pasted-key!")
    assert "sk-pasted" not in str(bad.value)
    assert scribe_models("rm", "remote:box") == 0
    assert load_remotes() == {}


def test_progress_bar_line():
    bar = command.ProgressBar(io.StringIO())
    line = bar.line(DownloadProgress("org/x", "model.safetensors", 1_000_000, 2_000_000, 3, 8, 200_000.0, 5.0))
    assert "[############............]  50%" in line
    assert "1.0 MB / 2.0 MB" in line and "200 kB/s" in line and "ETA 00:05" in line and "(3/8)" in line
