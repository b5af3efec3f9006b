"""`scribe eval --per-file`: one row per file, then the overall row pooling them, on a tiny model built here."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from scribe.cli import main


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from scribe.training.corpus import Document
    from scribe.training.dataset import char_tokenizer

    tokenizer = char_tokenizer([Document(tmp_path, "abcdefghijklmnopqrstuvwxyz .,\n")])
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_positions=32, n_layer=1, n_head=2, n_embd=16,
                               initializer_range=0.3)).save_pretrained(tmp_path / "m")
    tokenizer.save_pretrained(tmp_path / "m")
    return tmp_path / "m"


def test_rows_per_file_and_an_overall_row_that_pools_them(model_dir: Path, tmp_path: Path, capsys) -> None:
    one, two = tmp_path / "one.txt", tmp_path / "two.txt"
    one.write_text("the sea was calm and the sky was grey.\n", encoding="utf-8")
    two.write_text("a cat sat on the mat, and a dog ran by the old barn door.\n", encoding="utf-8")
    args = ["eval", str(one), str(two), "-m", str(model_dir), "--device", "cpu", "--speed-tokens", "0", "--per-file"]
    assert main(args + ["--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["file"] for r in rows] == ["one.txt", "two.txt", "(all)"]
    first, second, overall = rows
    assert overall["characters"] == first["characters"] + second["characters"] == 39 + 58
    nats = first["loss"] * first["tokens"] + second["loss"] * second["tokens"]
    assert overall["bits_per_char"] == pytest.approx(nats / overall["characters"] / math.log(2))

    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines[1:]] == ["one.txt", "two.txt", "(all)"]
    assert lines[3].split()[-2] == f"{overall['bits_per_char']:.4f}"
