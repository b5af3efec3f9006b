"""The bundled model as shipped: its shape, its size, its sampling settings, and how fast it loads."""

from __future__ import annotations

import json
import time
from pathlib import Path

MODEL = Path(__file__).resolve().parents[2] / "models" / "scribe-gutenberg"


def test_the_bundled_model_reads_1024_tokens_and_fits_the_size_limit() -> None:
    config = json.loads((MODEL / "config.json").read_text())
    assert config["n_positions"] >= 1024 and config["model_type"] == "gpt2"
    size = sum(p.stat().st_size for p in MODEL.iterdir())
    assert size <= 60_000_000
    settings = json.loads((MODEL / "generation_config.json").read_text())
    assert settings["do_sample"] is True and 0 < settings["temperature"] <= 1 and settings["top_p"] < 1
    card = (MODEL / "README.md").read_text(encoding="utf-8")
    for held_out in ("pg47_montgomery_anne_of_avonlea", "pg786_dickens_hard_times"):
        assert held_out in card


def test_the_bundled_model_loads_in_under_a_second() -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    AutoModelForCausalLM.from_pretrained(MODEL)  # the first load also imports the GPT-2 classes
    start = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(MODEL)
    tokenizer = AutoTokenizer.from_pretrained(MODEL)
    assert time.perf_counter() - start < 1.0
    ids = tokenizer("It was a dark and stormy night", return_tensors="pt")["input_ids"]
    assert model(input_ids=ids).logits.shape == (1, ids.shape[1], len(tokenizer))
