"""Sliding-window perplexity against the transformers guide's own loop, bits per character, and `scribe eval`."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from scribe.training.evaluate import score_texts, sliding_window_nll

REPO = Path(__file__).resolve().parents[2]
TEXT = ("It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
        "foolishness, it was the epoch of belief, it was the epoch of incredulity.\n") * 3


@pytest.fixture(scope="module")
def gpt2(tiny_model_dir: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = tiny_model_dir
    return AutoModelForCausalLM.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)


def guide_nll(model, ids, max_length: int, stride: int) -> tuple[float, int]:  # noqa: ANN001
    """The loop of https://huggingface.co/docs/transformers/perplexity, apart from summing, and counting the labels the
    shifted loss really averages over (the guide subtracts one per window for the shift, which undercounts by one
    whenever the window's first position is masked already)."""
    import torch

    encodings = ids[None]
    seq_len = encodings.size(1)
    nll_sum, n_tokens, prev_end_loc = 0.0, 0, 0
    for begin_loc in range(0, seq_len, stride):
        end_loc = min(begin_loc + max_length, seq_len)
        trg_len = end_loc - prev_end_loc
        input_ids = encodings[:, begin_loc:end_loc]
        target_ids = input_ids.clone()
        target_ids[:, :-trg_len] = -100
        with torch.no_grad():
            neg_log_likelihood = model(input_ids, labels=target_ids).loss
        num_loss_tokens = (target_ids[:, 1:] != -100).sum().item()
        nll_sum += neg_log_likelihood.item() * num_loss_tokens
        n_tokens += num_loss_tokens
        prev_end_loc = end_loc
        if end_loc == seq_len:
            break
    return nll_sum, n_tokens


@pytest.mark.parametrize(("max_length", "stride"), [(16, 8), (16, 5), (32, 32), (1024, 512)])
def test_sliding_window_matches_the_guide(gpt2, max_length: int, stride: int) -> None:  # noqa: ANN001
    import torch

    model, tokenizer = gpt2
    ids = torch.tensor(tokenizer(TEXT)["input_ids"])
    nats, count = sliding_window_nll(model, ids, max_length, stride)
    expected_nats, expected_count = guide_nll(model, ids, max_length, stride)
    assert count == expected_count
    assert nats == pytest.approx(expected_nats, rel=1e-5)
    if stride < max_length:
        assert count == len(ids) - 1  # every token after the first predicted exactly once


def test_one_window_equals_the_plain_loss(gpt2) -> None:  # noqa: ANN001
    import torch

    model, tokenizer = gpt2
    ids = torch.tensor([tokenizer.eos_token_id, *tokenizer(TEXT)["input_ids"]])
    with torch.no_grad():
        plain = model(ids[None], labels=ids[None]).loss.item()
    score = score_texts(model, tokenizer, [TEXT], name="m", max_length=1024, stride=512)
    assert score.tokens == len(ids) - 1 and score.characters == len(TEXT)
    assert score.loss == pytest.approx(plain, rel=1e-5)
    assert score.perplexity == pytest.approx(math.exp(plain), rel=1e-4)
    assert score.bits_per_char == pytest.approx(plain * score.tokens / len(TEXT) / math.log(2), rel=1e-5)


def test_bad_stride_is_refused(gpt2) -> None:  # noqa: ANN001
    import torch

    with pytest.raises(ValueError, match="stride must be between 1 and max-length"):
        sliding_window_nll(gpt2[0], torch.arange(10), 8, 9)


def test_eval_command_compares_models(tiny_model_dir: Path, tmp_path: Path, scribe_home: Path) -> None:
    import shutil

    (tmp_path / "text.txt").write_text(TEXT, encoding="utf-8")
    twin = scribe_home / "data" / "models" / "twin"
    shutil.copytree(tiny_model_dir, twin)
    model = str(tiny_model_dir)
    run = subprocess.run([sys.executable, "-m", "scribe", "eval", str(tmp_path / "text.txt"), "--model", model,
                          "--model", "twin", "--max-length", "16", "--stride", "8", "--json"],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert [r["model"] for r in rows] == ["tiny-random-gpt2", "twin"]
    assert rows[0]["perplexity"] == pytest.approx(rows[1]["perplexity"]) and rows[0]["characters"] == len(TEXT)
    assert rows[0]["perplexity"] == pytest.approx(math.exp(rows[0]["loss"]))

    missing = subprocess.run([sys.executable, "-m", "scribe", "eval", str(tmp_path / "text.txt"), "-m", "nope"],
                             cwd=REPO, capture_output=True, text=True, timeout=300)
    assert missing.returncode == 1 and missing.stderr.startswith("scribe: error: no model 'nope'")

