"""Counting by pieces gives each text exactly the tokens its tokenizer gives it: for GPT-2's kind (the bundled model),
for Llama 3's kind (a split expression, then byte-level BPE; trained here), and for a tokenizer of another kind (which
is counted whole); ASCII texts of every character, texts that are not ASCII and texts holding a special token."""

from __future__ import annotations

import random
import string
from pathlib import Path

import pytest
from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors, trainers

from scribe.engine.token_pieces import GPT2_PATTERN, PieceCounter, latin_pattern

REPO = Path(__file__).resolve().parents[2]
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                  r"\s*[\r\n]+|\s+(?!\S)|\s+")
WORDS = ("The night was long; lamps burned low over the quay. She'd said it's 1843, they'LL go — café naïve "
         "(quietly) \"No!\" x\x1cy a\tb 12345678 __init__ don't I'M “Ærø,” ½ x\xa0y’s ‘it’ll’ … 'ſ "
         "Ελλάδα 東京 🙂").split(" ")


def is_latin(char: str) -> bool:
    return ord(char) <= 0x24F or 0x2000 <= ord(char) <= 0x206F


def training_text() -> str:
    return (REPO / "README.md").read_text(encoding="utf-8")[:20_000]


def llama3_kind() -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["<|begin_of_text|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator([training_text()], trainer)
    tokenizer.post_processor = processors.TemplateProcessing(single="<|begin_of_text|> $A",
                                                             special_tokens=[("<|begin_of_text|>", 0)])
    return tokenizer


def other_kind() -> Tokenizer:
    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator([training_text()], trainers.BpeTrainer(vocab_size=300, special_tokens=["[UNK]"]))
    return tokenizer


def texts(rng: random.Random) -> list[str]:
    """Words, whitespace runs and every printable ASCII character, mixed; Latin letters with accents and curly quotes
    (counted by pieces), Greek, Chinese and emoji (encoded whole); some with a special token's text."""
    out = ["", " ", "\n\n\n", "  \n \t\r\n", "<|endoftext|> and <|begin_of_text|>"]
    for _ in range(300):
        pieces = [rng.choice(WORDS + list(string.printable) + [" " * rng.randint(1, 4), "\n" * rng.randint(1, 3)])
                  for _ in range(rng.randint(1, 40))]
        out.append("".join(piece + rng.choice(("", " ", "  ", "\n")) for piece in pieces))
    return out


@pytest.mark.parametrize("kind", ["gpt2", "llama3", "other"])
def test_counts_by_pieces_are_the_tokenizers_counts(kind: str) -> None:
    tokenizer = {"gpt2": lambda: Tokenizer.from_file(str(REPO / "models" / "scribe-gutenberg" / "tokenizer.json")),
                 "llama3": llama3_kind, "other": other_kind}[kind]()
    sample = texts(random.Random(7))
    latin = [text for text in sample if not text.isascii() and all(map(is_latin, text))]
    assert len(latin) > 100 and sum(not all(map(is_latin, text)) for text in sample) > 50
    for special in (False, True):
        counter = PieceCounter(tokenizer, add_special_tokens=special)
        assert counter.by_pieces == (kind != "other")
        expected = [len(tokenizer.encode(text, add_special_tokens=special)) for text in sample]
        assert counter.count(sample) == expected
        assert counter.count(sample[::-1]) == expected[::-1]  # pieces now remembered
        if counter.by_pieces:  # accented letters and curly quotes went by pieces too
            assert all(any(part in piece for piece in counter._pieces) for part in ("Ærø", "’", "“"))
    if kind == "llama3":  # the start token is counted once per text, as the tokenizer adds it
        assert PieceCounter(tokenizer).count(["", "word"]) == [1, len(tokenizer.encode("word").ids)]
        assert len(tokenizer.encode("word").ids) == len(tokenizer.encode("word", add_special_tokens=False).ids) + 1


def test_expressions_are_rewritten_only_when_known() -> None:
    assert latin_pattern(GPT2_PATTERN) is not None
    assert latin_pattern(LLAMA3_PATTERN) is not None
    for unknown in (r"\p{Lu}+", r"\w+", r"[^\S\n]+", r"\d+", r"\bx"):
        assert latin_pattern(unknown) is None, unknown
