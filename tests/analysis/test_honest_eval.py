"""Bits per character that stay honest across tokenizers: a word model's unknown words are charged for their
characters, and `scribe eval` scores a text exactly as the perplexity lens does (same start token), on real tiny
models built here."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

COMMON = "the a of and to in was he she it said that his her with on".split()


def random_word(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(6, 9)))


def text_of(rng: random.Random, words: int) -> str:
    """Half common words, half fresh random words (each new), in lines of twelve words."""
    out = [rng.choice(COMMON) if i % 2 else random_word(rng) for i in range(words)]
    return "\n".join(" ".join(out[i : i + 12]) + "." for i in range(0, words, 12)) + "\n"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(training text, held-out text): their random words never repeat, so most of them are unknown to a word
    vocabulary capped at 1,000 tokens."""
    folder = tmp_path_factory.mktemp("honest")
    rng = random.Random(0)
    train, held = folder / "train.txt", folder / "held.txt"
    train.write_text(text_of(rng, 3000), encoding="utf-8")
    held.write_text(text_of(rng, 240), encoding="utf-8")
    return train, held


def test_a_word_model_cannot_beat_a_subword_model_through_its_unknown_token(
        corpus: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> None:
    from scribe.analysis.comparison import backend_score, compare_model, row_note
    from scribe.engine.registry import load_model
    from scribe.keras_models.train_config import KerasTrainConfig
    from scribe.keras_models.trainer import KerasTrainer
    from scribe.training.trainer import TrainConfig, Trainer

    train, held = corpus
    root = tmp_path_factory.mktemp("models")
    word = root / "word-lstm"
    KerasTrainer(KerasTrainConfig(data=[str(train)], output=word, arch="word-lstm", preset="tiny", max_steps=30,
                                  log_every=10, sample_tokens=4, seed=0, job_dir=root / "word-job",
                                  join_lines=False)).run()
    subword = root / "char-gpt2"
    Trainer(TrainConfig(data=[str(train)], output=subword, job_dir=root / "gpt-job", preset="tiny", tokenizer="char",
                        context=64, batch_size=8, max_steps=30, eval_every=100, lr=3e-3, warmup_steps=2,
                        sample_tokens=2, sample_temperatures=(1.0,), threads=1, join_lines=False)).run()

    text = held.read_text(encoding="utf-8")
    backend = load_model(str(word), device="cpu")
    try:
        unknown_share = sum(1 for s in backend.score(text) if backend.token_text(s.token_id) == "[UNK]")
        naive_nats = -sum(s.logprob for s in backend.score(text))  # the unknown token scored as if it spelled
        honest = backend_score(backend, [text])
    finally:
        backend.close()
    assert unknown_share > 60  # about half of the 240 words are unknown to the word model
    naive_bpc = naive_nats / len(text) / math.log(2)
    assert honest.unknown_chars > 0.3 * len(text) and honest.nats > naive_nats

    sub = compare_model(str(subword), [str(held)], device="cpu", speed_tokens=0)
    assert naive_bpc < sub["bits_per_char"]  # the artifact: scored naively, the word model would look better
    assert honest.bits_per_char > sub["bits_per_char"]  # charged for its unknown words, it does not

    row = compare_model(str(word), [str(held)], device="cpu", speed_tokens=0)
    assert row["bits_per_char"] == pytest.approx(honest.bits_per_char)
    note = row_note(row)
    assert note is not None and f"{100 * honest.unknown_chars / len(text):.1f} % of the characters" in note
    assert row_note(sub) is None


def test_a_spelling_is_charged_per_character_and_unknown_characters_cost_more() -> None:
    from scribe.analysis.spelling import SpellingModel, unpredicted

    model = SpellingModel.from_tokens(["", "[UNK]", "cat", "dog", "tea"])
    assert model.nats("cat") < model.nats("cats") < model.nats("catsz")
    assert model.nats("caé") > model.nats("cat")  # a character no token holds is spelled as bytes
    assert unpredicted(" zebra", "[UNK]") == " zebra" and unpredicted(" cat", "cat") == " "
    assert unpredicted("\tx", "x") == "\t"


def test_scribe_eval_and_the_perplexity_lens_score_a_text_alike_when_bos_and_eos_differ(tmp_path: Path) -> None:
    import torch
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    from scribe.engine.registry import load_model
    from scribe.training.evaluate import evaluate_model

    text = ("the sea was calm and the sky was grey, and the boats came home before the storm broke. " * 3).strip() + "\n"
    chars = sorted(set(text))
    vocab = {"<s>": 0, "</s>": 1, **{c: i + 2 for i, c in enumerate(chars)}}
    backend_tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="</s>"))
    backend_tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    backend_tok.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend_tok, bos_token="<s>", eos_token="</s>")
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(vocab), n_positions=64, n_layer=1, n_head=2, n_embd=16,
                                       bos_token_id=0, eos_token_id=1, initializer_range=0.5))
    folder = tmp_path / "bos-model"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    path = tmp_path / "text.txt"
    path.write_text(text, encoding="utf-8")

    expected = evaluate_model(str(folder), [str(path)], device="cpu")  # windows of 64, stride 32: as the lens
    backend = load_model(str(folder), device="cpu")
    try:
        scores = backend.score(text)
    finally:
        backend.close()
    assert len(text) > 64 and expected.tokens == len(scores) == len(text)
    assert -sum(s.logprob for s in scores) == pytest.approx(expected.nats, rel=1e-4)
