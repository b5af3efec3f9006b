"""The fast assembly (paragraphs read and counted from the end only as far as the budget reaches, counts cached and
batched) gives exactly the prompt, token count and cuts of the same rules applied straightforwardly: the whole story
split at once and every candidate text tokenised whole. Generated stories, budgets, notes and lorebooks; counted with
whitespace words and with the bundled model's BPE tokenizer."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from scribe.studio.assembly import (
    EXACT_CHARS,
    CachedCounter,
    Counter,
    assemble,
    count_text,
    paragraph_count,
    paragraphs,
    paragraphs_from_end,
    tail,
)
from scribe.studio.lorebook import LoreEntry, Lorebook, scan_depths, triggered

REPO = Path(__file__).resolve().parents[2]
NAMES = ["Mara", "Bren", "Quill", "Ossa", "Tamsin"]
WORDS = ("the night was long and lamps burned low over quay while gulls cried sea wind rope salt dark "
         "she he said ran Heron ship harbour captain it's 1843, (quietly) — café").split()


def words(text: str) -> int:
    return len(text.split())


def bpe(by_pieces: bool = False) -> tuple[Counter, object]:
    """The bundled tokenizer's count, and its batch: encoding each text, or by pieces (what the studio's backends
    use, `scribe.engine.token_pieces`)."""
    from tokenizers import Tokenizer

    from scribe.engine.token_pieces import PieceCounter

    tokenizer = Tokenizer.from_file(str(REPO / "models" / "scribe-gutenberg" / "tokenizer.json"))

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    def batch(texts: list[str]) -> list[int]:
        return [len(e.ids) for e in tokenizer.encode_batch_fast(texts, add_special_tokens=False)]

    return count, (PieceCounter(tokenizer, add_special_tokens=False).count if by_pieces else batch)


def story(rng: random.Random) -> str:
    """Paragraphs of 1-60 words (one now and then of 200), separated by one to three newlines, sometimes with
    newlines at the start or the end."""
    pieces = []
    for _ in range(rng.randint(0, 40)):
        size = 200 if rng.random() < 0.05 else rng.randint(1, 60)
        pieces.append(" ".join(rng.choice(NAMES) if rng.random() < 0.03 else rng.choice(WORDS) for _ in range(size)))
    text = "".join(piece + "\n" * rng.randint(1, 3) for piece in pieces)
    if rng.random() < 0.5:
        text = text.rstrip("\n")
    return "\n" * rng.choice((0, 0, 0, 1, 2)) + text


def lorebook(rng: random.Random) -> Lorebook | None:
    if rng.random() < 0.3:
        return None
    entries = tuple(LoreEntry(keys=(name,), text=f"{name} knows {rng.choice(NAMES)}. " + " ".join(
        rng.choice(WORDS) for _ in range(rng.randint(1, 30))), name=name, order=rng.randint(0, 5),
        always=rng.random() < 0.15, scan_depth=rng.choice((None, 10, 80))) for name in NAMES)
    return Lorebook(entries, scan_depth=rng.choice((20, 200)), budget=rng.choice((10, 60, 400)),
                    recursive=rng.random() < 0.5)


def place_note(kept: list[str], note: str, depth: int, usual: str) -> str:
    """The kept paragraphs with the note `depth` paragraphs before the end."""
    at = max(len(kept) - depth, 0)
    before, after = "".join(kept[:at]), "".join(kept[at:])
    if not note.strip():
        return before + after
    if not after:
        return before + ("\n" if before and not before.endswith("\n") else "") + note + "\n"
    if not before:
        return note + usual + after
    return before + after[: len(after) - len(after.lstrip("\n"))] + note + after


def reference(text: str, *, budget: int, count: Counter, memory: str, note: str, note_depth: int,
              book: Lorebook | None) -> tuple[str, int, list[tuple[str, str]]]:
    """The prompt, its tokens and its cuts (source, label) by the module's rules, every text counted whole."""
    top = memory.rstrip("\n") + "\n" if memory.strip() else ""
    note = note.strip("\n")
    reserved = count(note + "\n") if note.strip() else 0
    cuts = []
    if book is not None and book.entries:
        fired = triggered(book, {depth: tail(text, depth, count) for depth in scan_depths(book)})
        blocks = [t.entry.text.rstrip("\n") + "\n" for t in fired]
        room = max(min(book.budget, budget - count(top) - reserved), 0)
        keep = list(range(len(fired)))
        for i in sorted(keep, key=lambda i: fired[i].entry.order):
            if count("".join(blocks[j] for j in keep)) <= room:
                break
            keep.remove(i)
            cuts.append(("lore", fired[i].entry.label))
        top += "".join(blocks[j] for j in keep)
    chunks = paragraphs(text)
    usual = chunks[-1][: len(chunks[-1]) - len(chunks[-1].lstrip("\n"))] if len(chunks) > 1 else "\n"
    room = budget - count(top) - reserved
    first = len(chunks)  # the longest end of whole paragraphs that fits, each candidate counted whole
    while room > 0 and first > 0 and count("".join(chunks[first - 1 :]).lstrip("\n")) <= room:
        first -= 1
    kept = chunks[first:]
    inside = room > 0 and not kept and bool(chunks)
    if inside:
        kept = [piece for piece in (tail(chunks[-1], room, count),) if piece]
    while True:
        if kept:
            kept[0] = kept[0].lstrip("\n")
        prompt = top + place_note(kept, note, note_depth, usual)
        over = count(prompt) - budget
        if over <= 0 or not kept:
            break
        if len(kept) > 1:
            kept = kept[1:]
        else:
            kept, inside = [piece for piece in (tail(kept[0], count(kept[0]) - over, count),) if piece], True
    cut = len(text) - len("".join(kept))
    if cut:
        dropped = len(chunks) - 1 if inside else len(chunks) - len(kept)
        cuts.append(("story", f"{dropped} paragraph{'s' if dropped != 1 else ''}"
                     + (" and the start of the last" if inside else "")))
    return prompt, count(prompt), cuts


def case(rng: random.Random) -> dict:
    return {"text": story(rng), "budget": rng.choice((0, 3, 20, 60, 150, 400, 2000)),
            "memory": rng.choice(("", "A sea story.\n", "Premise: the Heron sails north; Mara commands.")),
            "note": rng.choice(("", "[Mood: dread]", "\n[Style: terse.]\n")), "note_depth": rng.randint(0, 4),
            "book": lorebook(rng)}


@pytest.mark.parametrize("counter", ["words", "bpe", "bpe by pieces"])
def test_the_fast_assembly_gives_the_straightforward_prompt(counter: str) -> None:
    count, batch = (words, None) if counter == "words" else bpe(counter == "bpe by pieces")
    rng = random.Random(16)
    warm = CachedCounter(count, batch=batch)  # kept across cases, as the studio keeps it while the writer types
    for number in range(300 if counter == "words" else 80):
        c = case(rng)
        expected, tokens, cuts = reference(c["text"], budget=c["budget"], count=count, memory=c["memory"],
                                           note=c["note"], note_depth=c["note_depth"], book=c["book"])
        for counting in (count, CachedCounter(count), CachedCounter(count, batch=batch), warm):
            result = assemble(c["text"], budget=c["budget"], count=counting, memory=c["memory"], note=c["note"],
                              note_depth=c["note_depth"], lorebook=c["book"])
            assert result.prompt == expected, (number, c)
            assert result.tokens == tokens == count(result.prompt), (number, c)
            assert [(cut.source, cut.label) for cut in result.cuts] == cuts, (number, c)
            assert sum(part.tokens for part in result.parts) == tokens, (number, c)
            assert tokens <= c["budget"] or result.tokens_of("story") == 0, (number, c)  # only memory, note, lore over


@pytest.mark.parametrize("by_pieces", [False, True])
def test_a_long_prompt_summed_from_its_parts_is_the_whole_count(by_pieces: bool) -> None:
    """Past the length counted whole once more, the figure is the sum of the parts: the same as tokenising the whole
    prompt, for the bundled tokenizer; and one more paragraph would not have fitted."""
    count, batch = bpe(by_pieces)
    rng = random.Random(5)
    text = "\n\n".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 90))) for _ in range(1500))
    memory = "A sea story.\n"
    for budget in (20_000, 60_000):
        result = assemble(text, budget=budget, count=CachedCounter(count, batch=batch), memory=memory,
                          note="[Mood: dread]", note_depth=2)
        assert len(result.prompt) > EXACT_CHARS
        assert result.tokens == count(result.prompt) <= budget
        (note,) = [part.text for part in result.parts if part.source == "note"]
        body = result.prompt[len(memory) :]
        kept = body.replace(note, "", 1)
        start = len(text) - len(kept)
        assert text.endswith(kept) and text[start - 2 : start] == "\n\n"
        previous = text[: start - 2].rsplit("\n\n", 1)[-1]
        assert count(memory + previous + "\n\n" + body) > budget


def test_paragraphs_from_the_end_are_the_paragraphs() -> None:
    rng = random.Random(3)
    for _ in range(200):
        text = story(rng) + rng.choice(("", "x" * 9000, "\n" * 5000 + "y"))
        expected = paragraphs(text)
        for window in (1, 7, 4096):
            listed = list(paragraphs_from_end(text, window))
            assert [chunk for _, chunk in reversed(listed)] == expected
            assert all(text.startswith(chunk, offset) for offset, chunk in listed)
            for number, (offset, _) in enumerate(reversed(listed)):
                assert paragraph_count(text, offset) == number
        assert paragraph_count(text, len(text)) == len(expected)


def test_batches_count_only_near_the_budget() -> None:
    """Cold, a 128k-token budget over a longer story counts little more than what the budget takes."""
    counted: list[int] = []

    def batch(texts: list[str]) -> list[int]:
        counted.append(sum(map(words, texts)))
        return [words(t) for t in texts]

    text = "\n\n".join(" ".join(f"w{i}" for _ in range(50)) for i in range(6000))  # 300,000 words
    result = assemble(text, budget=128_000, count=CachedCounter(words, batch=batch))
    assert result.tokens == 128_000
    assert 128_000 <= sum(counted) <= 128_000 * 1.15 and len(counted) <= 4


def test_the_studios_backends_count_a_batch_as_they_count_each_text() -> None:
    """The batch the studio's counter uses (both loaders of the bundled model) gives each text's own count."""
    from scribe.engine.gpt2_light import load_light
    from scribe.engine.transformers_backend import TransformersBackend

    bundled = REPO / "models" / "scribe-gutenberg"
    texts = paragraphs(story(random.Random(9))) + ["", "\n\n\n", "  indented — café naïve", "<|endoftext|> x"]
    for backend in (load_light(bundled, name="scribe-gutenberg"), TransformersBackend.load(bundled, device="cpu")):
        assert backend.count_tokens_batch(texts) == [backend.count_tokens(text) for text in texts]


@pytest.mark.parametrize("by_pieces", [False, True])
def test_a_text_counted_by_cached_paragraphs_is_counted_as_a_whole(by_pieces: bool) -> None:
    """The status bar's count of the text before the cursor: paragraph by paragraph, as counting it whole; and with a
    counter that adds a start token to every text, that token once."""
    count, batch = bpe(by_pieces)
    rng = random.Random(11)
    warm = CachedCounter(count, batch=batch)
    for _ in range(60):
        text = story(rng)[: rng.choice((None, 50, 333))]
        assert count_text(text, warm) == count_text(text, CachedCounter(count, batch=batch)) == count(text)
        with_start = CachedCounter(lambda t: count(t) + 1, batch=lambda ts: [n + 1 for n in batch(ts)])
        assert count_text(text, with_start) == count(text) + 1


def test_a_start_token_counted_with_every_text_is_counted_once() -> None:
    """A counter that adds a start token to every text (as Llama's tokenizers count): the same prompt and cuts as
    without it in one token less, the parts' counts without it and the whole's with it once."""
    count, batch = bpe()

    def with_start(text: str) -> int:
        return count(text) + 1

    def batch_with_start(texts: list[str]) -> list[int]:
        return [n + 1 for n in batch(texts)]

    rng = random.Random(23)
    long_story = "\n\n".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 90))) for _ in range(1500))
    cases = [case(rng) for _ in range(40)] + [{"text": long_story, "budget": 30_000, "memory": "A sea story.",
                                               "note": "[Mood: dread]", "note_depth": 2, "book": None}]
    for number, c in enumerate(cases):
        tools = {"memory": c["memory"], "note": c["note"], "note_depth": c["note_depth"], "lorebook": c["book"]}
        plain = assemble(c["text"], budget=c["budget"], count=CachedCounter(count, batch=batch), **tools)
        for counting in (with_start, CachedCounter(with_start, batch=batch_with_start)):
            started = assemble(c["text"], budget=c["budget"] + 1, count=counting, **tools)
            assert started.prompt == plain.prompt, number
            assert started.tokens == plain.tokens + 1 <= c["budget"] + 1 or plain.tokens_of("story") == 0, number
            assert [p.tokens for p in started.parts] == [p.tokens for p in plain.parts], number
            assert [(x.source, x.label) for x in started.cuts] == [(x.source, x.label) for x in plain.cuts], number
