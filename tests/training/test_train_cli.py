"""`scribe train`'s options become the right training settings, and its progress display (bar on a terminal)."""

from __future__ import annotations

import io

import pytest

from scribe.cli import build_parser
from scribe.commands.train import Display, plan, progress_bar
from scribe.training.events import Eval, Started, Step


def settings(*argv: str):  # noqa: ANN201
    return plan(build_parser().parse_args(["train", *argv, "--output", "/tmp/out"])).config


def test_options_choose_the_mode() -> None:
    scratch = settings("a.txt", "--preset", "char")
    assert (scratch.mode, scratch.base, scratch.tokenizer, scratch.lr) == ("scratch", None, "char", 1e-3)
    full = settings("a.txt", "--base", "gpt2", "--grad-accum", "2", "--patience", "3", "--resume")
    assert (full.mode, full.base, full.lr, full.grad_accum, full.patience, full.resume) == ("finetune", "gpt2", 5e-4, 2, 3, True)
    lora = settings("a.txt", "b/", "--base", "gpt2", "--lora", "--lora-r", "4", "--lr", "1e-3", "--max-memory", "8")
    assert (lora.mode, lora.lora_r, lora.lr, lora.max_memory_gb, lora.data) == ("lora", 4, 1e-3, 8.0, ["a.txt", "b/"])
    assert lora.precision == "auto" and settings("a.txt", "--precision", "float32").precision == "float32"
    with pytest.raises(ValueError, match="LoRA needs a base model"):
        settings("a.txt", "--lora")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_redrawn_in_place() -> None:
    out = Terminal()
    display = Display(as_json=False, stream=out)
    display(Started(output="o", preset="tiny", parameters=1000, vocab_size=65, context=64, batch_size=8, documents=1,
                    train_tokens=5000, val_tokens=500, max_steps=200, max_minutes=None))
    display(Step(step=50, loss=2.5, lr=1e-3, tokens_per_s=12345.0, elapsed_s=10.0, eta_s=90.0))
    display(Step(step=100, loss=2.25, lr=1e-3, tokens_per_s=12000.0, elapsed_s=20.0, eta_s=80.0))
    display(Eval(step=100, val_loss=2.3, perplexity=9.97, bits_per_char=3.3))
    text = out.getvalue()
    assert "\r\033[K" + progress_bar(100, 200, 2.25, 12000.0, 80.0) in text
    assert progress_bar(100, 200, 2.25, 12000.0, 80.0) == (
        "[############------------]  50%  step 100/200  loss 2.2500  12,000 tok/s  eta 01:20")
    assert text.endswith("\r\033[Keval step 100: val loss 2.3000 nats/token, perplexity 9.97, 3.300 bits/char\n")

    plain = io.StringIO()
    Display(as_json=False, stream=plain)(Step(step=50, loss=2.5, lr=1e-3, tokens_per_s=12345.0, elapsed_s=10.0, eta_s=90.0))
    assert plain.getvalue().startswith("step     50  loss 2.5000") and "\r" not in plain.getvalue()
