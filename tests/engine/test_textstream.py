"""Incremental detokenization and stop strings, with a real GPT-2-style byte-level BPE tokenizer (the tiny one)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tokenizers import Tokenizer

from scribe.engine.textstream import IncrementalDecoder, StopMatcher, TextStream


@pytest.fixture(scope="module")
def gpt2(tiny_model_dir: Path) -> Tokenizer:
    return Tokenizer.from_file(str(tiny_model_dir / "tokenizer.json"))


def _decoder(tokenizer: Tokenizer):
    return lambda ids: tokenizer.decode(list(ids), skip_special_tokens=False)


TEXTS = [
    "Hello world, the quick brown fox.",
    "Emoji 😀🎉 and 日本語のテキスト, ñandú, Ω≈ç√.",
    "  leading spaces\n\nand\ttabs   ",
    "👩‍👩‍👧‍👦 family",
]


@pytest.mark.parametrize("text", TEXTS)
def test_deltas_add_up_to_the_text_and_never_hold_a_broken_character(gpt2: Tokenizer, text: str) -> None:
    ids = gpt2.encode(text).ids
    decoder = IncrementalDecoder(_decoder(gpt2))
    deltas = [decoder.push(i) for i in ids]
    assert "".join(deltas) + decoder.flush() == text
    assert all("\ufffd" not in delta for delta in deltas)


def test_a_character_split_over_tokens_arrives_with_its_last_byte(gpt2: Tokenizer) -> None:
    ids = gpt2.encode("😀").ids
    assert len(ids) > 1, "a byte-level BPE splits this emoji over byte tokens"
    decoder = IncrementalDecoder(_decoder(gpt2))
    deltas = [decoder.push(i) for i in ids]
    assert deltas[:-1] == [""] * (len(ids) - 1)
    assert deltas[-1] == "😀"


def test_an_unfinished_character_is_flushed_as_replacement(gpt2: Tokenizer) -> None:
    first_byte = gpt2.encode("😀").ids[0]
    decoder = IncrementalDecoder(_decoder(gpt2))
    assert "".join(decoder.push(i) for i in gpt2.encode("ok").ids) == "ok"
    assert decoder.push(first_byte) == ""
    assert decoder.flush() == "\ufffd"


def test_stop_string_inside_one_piece_cuts_before_it() -> None:
    matcher = StopMatcher(["END"])
    assert matcher.push("abc END def") == "abc "
    assert matcher.stopped
    assert matcher.push("more") == ""
    assert matcher.flush() == ""


def test_possible_stop_start_is_held_until_decided() -> None:
    matcher = StopMatcher(["\n\n"])
    assert matcher.push("line one\n") == "line one"
    assert matcher.push("line two") == "\nline two"
    assert matcher.push("\n") == ""
    assert matcher.push("\nafter") == ""
    assert matcher.stopped


def test_stop_string_spread_over_pieces() -> None:
    matcher = StopMatcher(["The End", "###"])
    released = [matcher.push(piece) for piece in ["so it was. T", "he", " E", "nd of it"]]
    assert "".join(released) == "so it was. "
    assert matcher.stopped


def test_earliest_stop_string_wins() -> None:
    matcher = StopMatcher(["bb", "a"])
    assert matcher.push("xxbbya") == "xx"


def test_held_text_that_was_not_a_stop_is_released_at_the_end() -> None:
    matcher = StopMatcher(["STOP"])
    assert matcher.push("almost ST") == "almost "
    assert not matcher.stopped
    assert matcher.flush() == "ST"


def test_no_stop_strings_release_everything_at_once() -> None:
    matcher = StopMatcher([])
    assert matcher.push("anything\n\n") == "anything\n\n"


def test_text_stream_joins_decoding_and_stops(gpt2: Tokenizer) -> None:
    ids = gpt2.encode("Once upon a time 🐉 there was\n\na dragon.").ids
    stream = TextStream(_decoder(gpt2), ["\n\n"])
    released = []
    for token in ids:
        released.append(stream.push(token))
        if stream.stopped:
            break
    stream.finish()
    assert stream.stopped
    assert "".join(released) == stream.text == "Once upon a time 🐉 there was"


def test_text_stream_finish_releases_the_held_back_tail(gpt2: Tokenizer) -> None:
    ids = gpt2.encode("It ended with a dash -").ids
    stream = TextStream(_decoder(gpt2), ["--"])
    released = "".join(stream.push(token) for token in ids)
    assert released == "It ended with a dash "
    assert stream.finish() == "-"
    assert stream.text == "It ended with a dash -"
