"""Context assembly against hand-computed prompts: budget, cuts, note depth, triggers, recursion, priorities.

Most tests count tokens as whitespace-separated words (`words`), so every expected figure can be checked by eye; one
test uses the bundled model's real BPE tokenizer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scribe.studio.assembly import EXACT_CHARS, CachedCounter, assemble, paragraphs, tail
from scribe.studio.lorebook import LoreEntry, Lorebook, LorebookError, key_pattern

REPO = Path(__file__).resolve().parents[2]


def words(text: str) -> int:
    return len(text.split())


STORY = "One two three.\n\nFour five six seven.\n\nEight nine.\n"  # paragraphs of 3, 4 and 2 words


def test_paragraphs_keep_the_text_and_its_line_breaks() -> None:
    assert paragraphs(STORY) == ["One two three.", "\n\nFour five six seven.", "\n\nEight nine.\n"]
    assert paragraphs("\n\nA\nB") == ["\n\nA", "\nB"]
    assert "".join(paragraphs(STORY)) == STORY


def test_everything_fits_story_alone() -> None:
    result = assemble(STORY, budget=100, count=words)
    assert result.prompt == STORY
    assert result.cuts == ()
    assert result.tokens == 9


def test_story_is_cut_from_the_front_at_a_paragraph_boundary() -> None:
    result = assemble(STORY, budget=7, count=words)  # 3 + 4 + 2 = 9 > 7: the first paragraph goes
    assert result.prompt == "Four five six seven.\n\nEight nine.\n"
    assert result.tokens == 6
    (cut,) = result.cuts
    assert cut.source == "story" and cut.label == "1 paragraph" and "first 16 characters" in cut.reason
    result = assemble(STORY, budget=5, count=words)  # 4 + 2 = 6 > 5: only the last paragraph stays
    assert result.prompt == "Eight nine.\n"
    assert result.cuts[0].label == "2 paragraphs"


def test_a_last_paragraph_too_long_is_cut_inside_at_a_word() -> None:
    result = assemble("alpha beta gamma delta epsilon", budget=3, count=words)
    assert result.prompt == "gamma delta epsilon"
    assert "cut inside it" in result.cuts[0].reason


def test_memory_and_note_are_never_cut_and_the_note_sits_at_its_depth() -> None:
    result = assemble(STORY, budget=9, count=words, memory="Premise: sea.", note="[Mood: dread]", note_depth=1)
    # memory 2 + note 2 = 4, the story has 5: "Eight nine." (2) fits, "Four ... seven." (4) does not
    assert result.prompt == "Premise: sea.\n[Mood: dread]\n\nEight nine.\n"
    assert [p.source for p in result.parts] == ["memory", "note", "story"]
    assert result.tokens == 6
    deeper = assemble(STORY, budget=100, count=words, note="[Mood: dread]", note_depth=2)
    assert deeper.prompt == "One two three.\n\n[Mood: dread]\n\nFour five six seven.\n\nEight nine.\n"
    assert [p.source for p in deeper.parts] == ["story", "note", "story"]
    # the memory and note alone exceed the budget: they stay whole, the story goes
    tight = assemble(STORY, budget=3, count=words, memory="a b c", note="d e")
    assert tight.prompt == "a b c\nd e\n"
    assert "no room" in tight.cuts[0].reason


def test_note_depth_zero_ends_the_prompt_and_a_depth_past_the_start_opens_the_story() -> None:
    at_end = assemble("Line one.\nLine two", budget=100, count=words, note="[N]", note_depth=0)
    assert at_end.prompt == "Line one.\nLine two\n[N]\n"
    at_start = assemble(STORY, budget=100, count=words, note="[N]", note_depth=9)
    assert at_start.prompt == "[N]\n\n" + STORY


def test_keys_trigger_only_in_the_scanned_end_of_the_story() -> None:
    story = "Mara sailed.\n\nThe harbour was quiet and the gulls were loud tonight.\n"  # "Mara" is 12 words back
    book = Lorebook((LoreEntry(keys=("Mara",), text="Mara is the captain.", name="Mara"),), scan_depth=5)
    assert assemble(story, budget=100, count=words, lorebook=book).lore == ()
    deep = Lorebook(book.entries, scan_depth=20)
    result = assemble(story, budget=100, count=words, lorebook=deep)
    assert result.prompt == "Mara is the captain.\n" + story
    (hit,) = result.lore
    assert (hit.label, hit.key, hit.via) == ("Mara", "Mara", "story")
    # an entry's own scan depth wins over the book's
    own = Lorebook((LoreEntry(keys=("Mara",), text="M.", scan_depth=20),), scan_depth=5)
    assert assemble(story, budget=100, count=words, lorebook=own).prompt == "M.\n" + story


def test_keys_are_whole_words_case_insensitive_unless_told_and_regex_keys_work() -> None:
    assert key_pattern("mara").search("MARA wept")
    assert not key_pattern("mara").search("Samaran")
    assert not key_pattern("Mara", case_sensitive=True).search("mara wept")
    assert key_pattern("the old  captain").search("the old\ncaptain")
    assert key_pattern(r"/dragons?\b/i").search("Two DRAGONS")
    assert not key_pattern(r"/dragons?\b/").search("Two DRAGONS")
    with pytest.raises(LorebookError, match="not a valid regular expression"):
        key_pattern("/([/")
    story = "The ship Heron and mara.\n"
    book = Lorebook((
        LoreEntry(keys=("Mara",), text="cs", case_sensitive=True, name="cs"),
        LoreEntry(keys=("ship",), text="needs both", secondary_keys=("harbour", "heron"), name="both"),
        LoreEntry(keys=("ship",), text="secondary missing", secondary_keys=("dock",), name="missing"),
        LoreEntry(keys=("Heron",), text="disabled", enabled=False),
    ))
    result = assemble(story, budget=100, count=words, lorebook=book)
    assert [(p.label, p.key) for p in result.lore] == [("both", "ship")]


def test_always_on_entries_order_and_the_key_that_fired() -> None:
    story = "Quill met Bren at dawn.\n"
    book = Lorebook((
        LoreEntry(keys=("Bren", "Quill"), text="Bren: smith.", name="Bren", order=50),
        LoreEntry(keys=("nobody",), text="World: ash.", name="World", always=True, order=10),
        LoreEntry(keys=("quill",), text="Quill: thief.", name="Quill", order=300),
    ))
    result = assemble(story, budget=100, count=words, lorebook=book)
    assert result.prompt == "World: ash.\nBren: smith.\nQuill: thief.\n" + story  # ascending order
    assert [(p.label, p.key, p.via) for p in result.lore] == [("World", "", "always"), ("Bren", "Bren", "story"),
                                                             ("Quill", "quill", "story")]


def test_entries_over_their_budget_are_dropped_lowest_order_first() -> None:
    story = "Ann and Ben and Cal.\n"  # 5 words
    book = Lorebook((
        LoreEntry(keys=("Ann",), text="a1 a2 a3", name="Ann", order=30),
        LoreEntry(keys=("Ben",), text="b1 b2 b3", name="Ben", order=10),
        LoreEntry(keys=("Cal",), text="c1 c2 c3", name="Cal", order=20),
    ), budget=6)
    result = assemble(story, budget=100, count=words, lorebook=book)
    assert result.prompt == "c1 c2 c3\na1 a2 a3\n" + story
    (cut,) = result.cuts
    assert (cut.source, cut.label, cut.tokens) == ("lore", "Ben", 3) and "budget of 6" in cut.reason
    # the context, not the lorebook's budget, can be what limits them: memory 4 leaves 3 of 7
    small = assemble(story, budget=7, count=words, memory="m1 m2 m3 m4", lorebook=Lorebook(book.entries, budget=100))
    assert [p.label for p in small.lore] == ["Ann"]
    assert [c.label for c in small.cuts if c.source == "lore"] == ["Ben", "Cal"]
    assert small.prompt == "m1 m2 m3 m4\na1 a2 a3\n"  # no room left for the story
    assert small.cuts[-1].source == "story"


def test_recursion_is_one_level_and_optional() -> None:
    story = "Mara looked up.\n"
    entries = (
        LoreEntry(keys=("Mara",), text="Mara commands the Heron.", name="Mara", order=1),
        LoreEntry(keys=("Heron",), text="The Heron flies the Gull flag.", name="Heron", order=2),
        LoreEntry(keys=("Gull",), text="Gull: a guild.", name="Gull", order=3),
    )
    flat = assemble(story, budget=100, count=words, lorebook=Lorebook(entries))
    assert [p.label for p in flat.lore] == ["Mara"]
    deep = assemble(story, budget=100, count=words, lorebook=Lorebook(entries, recursive=True))
    assert deep.prompt == "Mara commands the Heron.\nThe Heron flies the Gull flag.\n" + story  # not Gull: one level
    assert [(p.label, p.key, p.via) for p in deep.lore] == [("Mara", "Mara", "story"), ("Heron", "Heron", "Mara")]


def test_tail_is_the_longest_end_at_a_word_within_the_tokens() -> None:
    text = " ".join(f"w{i}" for i in range(1000))
    assert tail(text, 3, words) == "w997 w998 w999"
    assert tail(text, 5000, words) == text
    assert tail(text, 0, words) == ""


def test_a_prompt_too_long_to_recount_is_the_sum_of_its_parts_and_fits() -> None:
    story = "\n\n".join(" ".join(f"p{i}w{j}" for j in range(50)) for i in range(3000))  # 150,000 words
    result = assemble(story, budget=100_000, count=CachedCounter(words), memory="m1 m2", note="[N]", note_depth=2)
    assert len(result.prompt) > EXACT_CHARS
    assert result.tokens == words(result.prompt) == 2 + 1 + 1999 * 50  # memory, note, the last 1999 paragraphs
    assert result.prompt.startswith("m1 m2\np1001w0 ")


def test_cached_counter_counts_each_text_once() -> None:
    calls: list[str] = []

    def counting(text: str) -> int:
        calls.append(text)
        return words(text)

    cached = CachedCounter(counting)
    assert cached("a b") == 2 and cached("a b") == 2
    assert calls == ["a b"]


def test_a_real_tokenizer_fits_the_budget_exactly() -> None:
    """The bundled model's BPE: the prompt never exceeds the budget, and memory, note and the fired entry are whole."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(REPO / "models" / "scribe-gutenberg" / "tokenizer.json"))

    def bpe(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    story = "\n\n".join(f"Paragraph {i}: the night was long and the lamps burned low over the quay." for i in range(40))
    story += "\n\nThen Mara spoke"
    book = Lorebook((LoreEntry(keys=("Mara",), text="Mara is the captain of the Heron.", name="Mara"),))
    result = assemble(story, budget=120, count=CachedCounter(bpe), memory="A story of the sea.",
                      note="[Style: terse]", note_depth=2, lorebook=book)
    assert result.tokens == bpe(result.prompt) <= 120
    assert sum(part.tokens for part in result.parts) == result.tokens  # parts counted apart add up to the whole
    assert result.prompt.startswith("A story of the sea.\nMara is the captain of the Heron.\nParagraph ")
    assert result.prompt.endswith("quay.\n\n[Style: terse]\n\nParagraph 39: the night was long and the lamps burned "
                                  "low over the quay.\n\nThen Mara spoke")
    kept = result.prompt.split("Heron.\n", 1)[1]
    assert story.endswith(kept.replace("[Style: terse]\n\n", ""))  # the story's end, cut at a paragraph start
    assert kept.startswith("Paragraph ")
    # one more paragraph would not have fitted
    first = int(kept.split(":", 1)[0].split()[1])
    longer = result.prompt.replace(kept, f"Paragraph {first - 1}: the night was long and the lamps burned low over "
                                         f"the quay.\n\n" + kept)
    assert bpe(longer) > 120
