"""`scribe eval` reads its files a piece at a time and keeps only their token ids: the figures are exactly those of the
whole texts (the reference is `score_texts` on `read_corpus`'s texts), pieces are tokenised apart only where that
gives the whole text's tokens (else each text is tokenised whole), and a cancel stops the reading."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest

from scribe.training.corpus import Document, cut_pieces, read_corpus, read_each
from scribe.training.dataset import char_tokenizer, hf_encode, pieces_keep_tokens, text_ids
from scribe.training.evaluate import ScoringCancelled, evaluate_model, load_for_eval, score_texts

WORDS = ("the", "lamp", "burned", "low", "and", "she", "wrote", "\u2019twas", "late", "9:45", "\u2014", "caf\u00e9",
         "\u201cnever,\u201d", "so", "it", "went")


def book(seed: int, paragraphs: int) -> str:
    """Paragraphs of wrapped prose and verse with blank lines of several lengths and double spaces."""
    rng = random.Random(seed)
    out = []
    for _ in range(paragraphs):
        words = [rng.choice(WORDS) for _ in range(rng.randint(5, 120))]
        lines = [" ".join(words[i:i + 11]) for i in range(0, len(words), 11)]
        out.append(("  " if rng.random() < 0.2 else "") + "\n".join(lines) + rng.choice(("\n\n", "\n\n\n", "\n  \n")))
    return "".join(out)


def metaspace_tokenizer():  # noqa: ANN201 - a transformers tokenizer
    """A SentencePiece-style tokenizer (each input starts with the word marker): pieces tokenise differently."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    chars = sorted(set(book(0, 50) + "\u2581"))
    backend = Tokenizer(models.BPE(vocab={"<unk>": 0, **{c: i + 1 for i, c in enumerate(chars)}}, merges=[],
                                   unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="always")
    return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", eos_token="<unk>")


@pytest.mark.parametrize("join_lines", [False, True])
def test_eval_figures_are_the_whole_texts(tmp_path: Path, tiny_model_dir: Path, join_lines: bool) -> None:
    files = []
    for seed, paragraphs in ((1, 400), (2, 30)):  # the first is cut into many pieces
        files.append(tmp_path / f"{seed}.txt")
        files[-1].write_text(book(seed, paragraphs), encoding="utf-8")
    model, tokenizer, _ = load_for_eval(str(tiny_model_dir), device="cpu")
    texts = [d.text for d in read_corpus(files, strip_gutenberg=False, join_lines=join_lines).documents]
    assert len(texts[0]) > 3 * 16_000
    expected = score_texts(model, tokenizer, texts, name="m", max_length=1024, stride=1024)
    score = evaluate_model(str(tiny_model_dir), files, max_length=1024, stride=1024, device="cpu",
                           join_lines=join_lines)
    assert (score.nats, score.tokens, score.characters) == (expected.nats, expected.tokens, expected.characters)


def test_pieces_are_tokenised_apart_only_where_that_keeps_the_tokens(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    text = book(3, 600)
    gpt2, chars, metaspace = (AutoTokenizer.from_pretrained(tiny_model_dir),
                              char_tokenizer([Document(Path("b.txt"), text)]), metaspace_tokenizer())
    assert pieces_keep_tokens(hf_encode(gpt2)) and pieces_keep_tokens(hf_encode(chars))
    assert not pieces_keep_tokens(hf_encode(metaspace))
    pieces = list(cut_pieces(iter((text,)), 3000))
    apart = [i for piece in pieces for i in metaspace(piece, add_special_tokens=False)["input_ids"]]
    whole = metaspace(text, add_special_tokens=False)["input_ids"]
    assert apart != whole  # so the fallback matters
    for tokenizer in (gpt2, chars, metaspace):
        ids = text_ids(iter(pieces), hf_encode(tokenizer))
        assert str(ids.dtype) == "int32"
        assert ids.tolist() == tokenizer(text, add_special_tokens=False)["input_ids"]


def test_read_each_keeps_no_text_and_skips_like_read_corpus(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(book(4, 400), encoding="utf-8")
    (tmp_path / "empty.txt").write_text("\n\n  \n", encoding="utf-8")
    (tmp_path / "binary.dat").write_bytes(b"abc\x00def")
    seen: list[int] = []
    reads, skipped = read_each([tmp_path], lambda pieces: seen.extend(len(p) for p in pieces) or len(seen),
                               join_lines=True)
    memory = read_corpus([tmp_path], join_lines=True)
    assert [(r.path, r.characters, r.encoding) for r in reads] == \
        [(d.path, d.characters, d.encoding) for d in memory.documents]
    assert skipped == memory.skipped and len(skipped) == 2
    assert reads[0].value > 1 and max(seen) < reads[0].characters  # given in pieces, never whole


def test_a_cancel_stops_eval_while_it_reads(tmp_path: Path, tiny_model_dir: Path) -> None:
    file = tmp_path / "a.txt"
    file.write_text(book(5, 50), encoding="utf-8")
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ScoringCancelled):
        evaluate_model(str(tiny_model_dir), [file], device="cpu", cancel=cancel)


def open_files(pid: int) -> set[str]:
    """The paths process `pid` has open now (a descriptor closed while they are read is left out)."""
    import os

    paths: set[str] = set()
    try:
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except FileNotFoundError:  # the process ended
        return paths
    for descriptor in descriptors:
        try:
            paths.add(os.readlink(descriptor))
        except FileNotFoundError:  # closed after the listing
            pass
    return paths


def test_ctrl_c_stops_scribe_eval_while_it_reads(tmp_path: Path, tiny_model_dir: Path) -> None:
    """The real `scribe eval` on a 20 MB file: SIGINT once the file is open stops it within seconds (exit 130)."""
    import signal
    import subprocess
    import sys
    import time

    file = tmp_path / "big.txt"
    text = book(6, 400)
    with open(file, "w", encoding="utf-8") as out:
        while out.tell() < 20_000_000:
            out.write(text)
    # SIGINT at its default in the child, as a terminal's Ctrl-C finds it (a runner started in the background hands
    # its children SIGINT ignored)
    process = subprocess.Popen([sys.executable, "-m", "scribe", "eval", "--model", str(tiny_model_dir), str(file), "--device",
                                "cpu", "--join-lines"], cwd=Path(__file__).resolve().parents[2],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if str(file.resolve()) in open_files(process.pid):
            break
        time.sleep(0.05)
    assert process.poll() is None, process.communicate()
    process.send_signal(signal.SIGINT)
    signalled = time.monotonic()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert time.monotonic() - signalled < 10, err
    assert "interrupted" in err and "tokens scored" not in err
