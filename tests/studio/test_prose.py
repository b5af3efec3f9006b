"""Continuations as prose: line breaks inside a paragraph joined, paragraph breaks kept, joins with the prompt right,
carriage returns normalised, and the same text whether streamed piece by piece or joined whole."""

from __future__ import annotations

import pytest

from scribe.studio.prose import ProseJoiner, join_prose

CASES = [
    # (prompt, continuation, joined)
    ("The sea", " was calm\nand grey.\n\nNext day", " was calm and grey.\n\nNext day"),
    ("The sea", "\nwas calm", " was calm"),  # no stray leading break
    ("The sea", "\n\nChapter II", "\n\nChapter II"),  # the model starts a paragraph
    ("The sea.\n", "\nIt rose.", "\nIt rose."),  # with the prompt's break, a paragraph break
    ("The sea.\n", "It rose.", "It rose."),
    ("The sea ", " was calm", "was calm"),  # no double space
    ("The sea ", "   was calm", "was calm"),
    ("He left.", "The door", " The door"),  # a word after a full stop gets its space
    ("He said,", "quietly", " quietly"),
    ("The lighthouse keep", "er", "er"),  # a word continued stays joined
    ("He went", "Home", " Home"),
    ("one", " two\r\nthree\rfour", " two three four"),
    ("one", " two\r\n\r\nthree", " two\n\nthree"),
    ("one", " two \nthree", " two three"),  # no second space
    ("", "\nOnce upon", "Once upon"),
    ("one", " two\n", " two\n"),  # a trailing break stays (the next piece may start a paragraph)
]


@pytest.mark.parametrize(("prompt", "text", "joined"), CASES)
def test_joins(prompt: str, text: str, joined: str) -> None:
    assert join_prose(prompt, text) == joined


@pytest.mark.parametrize(("prompt", "text", "joined"), CASES)
def test_streaming_piece_by_piece_gives_the_same_text(prompt: str, text: str, joined: str) -> None:
    for size in (1, 2, 3):
        joiner = ProseJoiner(prompt)
        pieces = [joiner.feed(text[i : i + size]) for i in range(0, len(text), size)]
        assert "".join(pieces) + joiner.finish() == joined


def test_without_joining_lines_only_the_joins_and_carriage_returns_change() -> None:
    assert join_prose("The sea", " was\r\ncalm\nand grey", join_lines=False) == " was\ncalm\nand grey"
    assert join_prose("He left.", "The", join_lines=False) == " The"


@pytest.mark.parametrize("separator", ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"])
def test_every_character_an_editor_breaks_lines_at_is_a_line_break(separator: str) -> None:
    """What the document receives is what the branch records: an editor splits lines at these (str.splitlines)."""
    for join_lines in (True, False):
        joined = join_prose("It was", f" late.{separator}{separator}Then", join_lines=join_lines)
        assert joined == " late.\n\nThen" and "\n".join(joined.splitlines()) == joined
