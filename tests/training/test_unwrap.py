"""Joining hard-wrapped lines back into paragraphs (`scribe.training.corpus.unwrap`) on real files on disk."""

from __future__ import annotations

import textwrap
from pathlib import Path

from scribe.training.corpus import read_corpus, read_document, unwrap

PROSE = ("It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
         "foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light.")
VERSE = "Shall I compare thee to a summer's day?\nThou art more lovely and more temperate:\nRough winds do shake"


def wrapped(text: str) -> str:
    return textwrap.fill(text, 70)


def test_wrapped_paragraphs_become_one_line_each_and_keep_their_blank_line() -> None:
    text = wrapped(PROSE) + "\n\n\n" + wrapped(PROSE.upper()) + "\n"
    assert wrapped(PROSE).count("\n") >= 2
    assert unwrap(text) == PROSE + "\n\n" + PROSE.upper()


def test_verse_lists_headings_and_indented_blocks_keep_their_line_breaks() -> None:
    listing = "1. eggs\n2. flour and a great deal of sugar\n3. milk"
    stepped = "Tyger Tyger, burning bright, in the forests of the night; what immortal hand\n" \
              "    Could frame thy fearful symmetry, in what distant deeps or skies, or eye\n    Burnt the fire"
    heading = "CHAPTER I.\nThe Period"
    table = ("                                                             PAGE\n"
             "_Stephen and Rachael in the Sick-room_                         64\n"
             "_Mr. Harthouse Dining at the Bounderbys’_                     100")
    for block in (VERSE, listing, stepped, heading, table):
        assert unwrap(wrapped(PROSE) + "\n\n" + block) == PROSE + "\n\n" + block


def test_books_indenting_every_line_or_wrapping_narrower_are_joined_too() -> None:
    indented = "\n\n".join("      " + "\n      ".join(wrapped(p).split("\n")) for p in (PROSE, PROSE.upper()))
    assert unwrap(indented) == PROSE + "\n\n" + PROSE.upper()
    narrow = "\n\n".join(textwrap.fill(p, 58) for p in (PROSE, PROSE.lower(), PROSE.upper()))
    assert unwrap(narrow + "\n\n" + VERSE) == PROSE + "\n\n" + PROSE.lower() + "\n\n" + PROSE.upper() + "\n\n" + VERSE


def test_a_wrap_inside_a_sentence_gap_is_not_indentation() -> None:
    block = ("They had pictures hung on the walls, mainly Washingtons and Lafayettes,\n"
             "and battles, and Highland Marys, and one called the Declaration.\n"
             " \xa0There was some that they called crayons, which one of the daughters\nmade.")
    assert unwrap(block) == block.replace("\n \xa0", " ").replace("\n", " ")


def test_a_line_ending_in_a_hyphen_or_dash_joins_without_a_space() -> None:
    first = "He said that he would certainly come back to see the old house to-"
    second = "morrow, and then he went away up the lane without another word--"
    assert unwrap(f"{first}\n{second}\nand so.") == f"{first}{second}and so."


def test_train_reads_prose_unwrapped_by_default_and_as_is_on_request(tmp_path: Path) -> None:
    path = tmp_path / "book.txt"
    body = wrapped(PROSE) + "\n\n" + VERSE + "\n"
    path.write_text("The Project Gutenberg eBook of Nothing\n*** START OF THIS PROJECT GUTENBERG EBOOK ***\n"
                    + body + "*** END OF THIS PROJECT GUTENBERG EBOOK ***\nlicence text\n", encoding="utf-8")
    assert read_document(path, join_lines=True).text == PROSE + "\n\n" + VERSE + "\n"
    assert read_corpus([path]).documents[0].text == body  # the reader's default leaves lines alone

    from scribe.cli import build_parser
    from scribe.commands.train import plan

    def config(*flags: str):  # noqa: ANN202
        return plan(build_parser().parse_args(["train", str(path), "--output", str(tmp_path / "m"), *flags])).config

    assert config().join_lines is True
    assert config("--keep-line-breaks").join_lines is False


def test_the_keras_trainers_take_the_same_setting(tmp_path: Path) -> None:
    from scribe.cli import build_parser
    from scribe.commands.train import plan

    def config(*flags: str):  # noqa: ANN202
        args = ["train", str(tmp_path / "book.txt"), "--arch", "char-lstm", "--output", str(tmp_path / "m"), *flags]
        return plan(build_parser().parse_args(args)).config

    assert config().join_lines is True
    assert config("--keep-line-breaks").join_lines is False
