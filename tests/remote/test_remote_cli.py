"""`scribe models add-remote` tells each server's kind from its answers, `scribe models info remote:NAME` shows what it
can apply, and `scribe generate --json` through a remote prints strict JSON (unknown probabilities as null)."""

from __future__ import annotations

import argparse
import json

import pytest
from servers.koboldcpp_server import KoboldCppServer
from servers.llamacpp_server import LlamaCppServer
from servers.ollama_server import OllamaServer
from servers.openai_server import CompletionServer
from servers.vllm_server import VllmServer

from scribe.cli import CommandError
from scribe.commands import generate, models
from scribe.store.remotes import get_remote


def scribe(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="scribe")
    sub = parser.add_subparsers(dest="command")
    models.register(sub)
    generate.register(sub)
    args = parser.parse_args(list(argv))
    return args.run(args)


@pytest.mark.parametrize("fake, kind, model, url_suffix", [
    (LlamaCppServer, "llama.cpp", "tiny", ""),
    (OllamaServer, "ollama", None, ""),
    (KoboldCppServer, "koboldcpp", "tiny", ""),
    (VllmServer, "vllm", "tiny", "/v1"),
    (CompletionServer, "openai", "tiny", ""),
])
def test_add_remote_detects_the_server_kind(fake, kind, model, url_suffix, capsys):
    with fake() as server:
        root = server.root if hasattr(server, "root") else server.url
        argv = ["models", "add-remote", "box", root + url_suffix]
        if model is None:  # Ollama lists two models: without --model the command asks for one
            with pytest.raises(CommandError, match="serves qwen2.5:7b, llama3.2:latest; pick one with --model"):
                scribe(*argv)
            argv += ["--model", "qwen2.5:7b"]
        assert scribe(*argv) == 0
    assert f"({kind} server, detected; model {model or 'qwen2.5:7b'!r}" in capsys.readouterr().err
    assert get_remote("box").server == kind and get_remote("box").model == (model or "qwen2.5:7b")


def test_add_remote_with_nothing_there_says_so():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(CommandError, match="nothing at http://127.0.0.1:.* answers like a model server"):
        scribe("models", "add-remote", "gone", f"http://127.0.0.1:{port}")


def test_info_shows_what_a_remote_can_apply(capsys):
    assert scribe("models", "add-remote", "kobold", "http://127.0.0.1:5001", "--server", "koboldcpp", "--model", "m",
                  "--ban", "suddenly", "--deadline", "90") == 0
    capsys.readouterr()
    assert scribe("models", "info", "remote:kobold") == 0
    lines = {line.split("  ")[0].strip(): line.split("  ", 1)[1].strip() for line in capsys.readouterr().out.splitlines()
             if "  " in line}
    assert lines["endpoint"] == "http://127.0.0.1:5001/api/extra/generate/stream"
    assert "dry_multiplier" in lines["applies"] and "xtc_probability" in lines["applies"]
    assert "dynatemp_range" in lines["applies"]
    assert {"early_stopping", "frequency_penalty", "logit_bias"} <= set(lines["cannot apply"].split(", "))
    assert lines["bans"] == "'suddenly'" and lines["gives up after"] == "60 s without text, or 90 s in all"
    assert lines["probabilities"].startswith("not sent by this server")


def test_generate_json_is_strict_with_unknown_probabilities_as_null(capsys):
    with OllamaServer(version="0.6.0") as server:  # an Ollama too old to send log-probabilities
        scribe("models", "add-remote", "old", server.root, "--model", "qwen2.5:7b")
        capsys.readouterr()
        assert scribe("generate", "-m", "remote:old", "--prompt", "Once upon", "--json", "--max-new-tokens", "3") == 0
    lines = capsys.readouterr().out.splitlines()

    def refuse(constant: str) -> None:
        raise ValueError(f"not strict JSON: {constant}")

    records = [json.loads(line, parse_constant=refuse) for line in lines]
    assert [r["type"] for r in records] == ["token", "token", "token", "end"]
    assert all(r["raw_prob"] is None and r["final_prob"] is None for r in records[:3])
    assert records[-1]["text"] == " The cat sat" and records[-1]["reason"] == "max_tokens"
