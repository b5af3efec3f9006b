"""Models side by side on the same files: perplexity, bits per character and generation speed.

Transformers models are scored by `scribe.training.evaluate` (the sliding-window protocol, `max_length` and
`stride`); any other backend by its own `Backend.score` over each whole document (`backend_score`), so a Keras LSTM
or mini-GPT can sit in the same table as soon as its backend can score. Bits per character divide by the same
characters whatever the tokenizer, which is what makes the rows comparable; characters a model's tokens do not stand
for (a word model's unknown words) are charged by a character model (`scribe.analysis.spelling`) and noted. Speed is
measured the way the studio generates: the model's backend streams greedy tokens from `SPEED_PROMPT`.

`compare_model` gives one row of `scribe eval`'s table; the TUI's evaluation view shows the same rows. It says what it
is doing (`status`: loading, with a word on the slow first TensorFlow/Keras start), reports tokens scored as it goes
(`progress`, see `scribe.training.evaluate.Progress`) and stops between windows (transformers) or documents (other
backends) once its `cancel` event is set, raising `ScoringCancelled`.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scribe.sampling.params import SamplingParams

if TYPE_CHECKING:
    from scribe.engine.base import Backend
    from scribe.training.corpus import Text
    from scribe.training.evaluate import Progress, Score

SPEED_PROMPT = "It was a bright cold day in April, and the clocks were striking thirteen. Winston Smith,"
"""The prompt every model continues when its speed is measured."""
KERAS_LOADING = "loading TensorFlow/Keras… (the first time takes longer)"
"""What `compare_model` says before a Keras model's worker starts: TensorFlow takes tens of seconds to start cold."""
COLUMNS = ("model", "tokens", "characters", "loss", "perplexity", "bits/char", "tokens/s")


def decode_speed(backend: "Backend", tokens: int, cancel: threading.Event | None = None) -> float:
    """Decode tokens per second (after the first token) of `tokens` greedy tokens from SPEED_PROMPT; a set `cancel`
    stops the stream and raises ScoringCancelled."""
    from scribe.engine.base import EngineError, StreamEnd
    from scribe.training.evaluate import ScoringCancelled

    params = SamplingParams(temperature=0.0, max_new_tokens=tokens, seed=0)
    stream = backend.stream(SPEED_PROMPT, params, alternatives=0, cancel=cancel)
    end = next(item for item in stream if isinstance(item, StreamEnd))
    if cancel is not None and cancel.is_set():
        raise ScoringCancelled("timing stopped")
    if end.reason == "error":
        raise EngineError(f"{backend.info.name}: speed not measured: {end.error}")
    return end.tokens_per_s


def backend_score(backend: "Backend", texts: "Sequence[str] | Sequence[Text]", *,
                  cancel: threading.Event | None = None, progress: "Progress | None" = None) -> "Score":
    """The backend's own per-token log-probabilities (`Backend.score`) summed over `texts`, plus the cost of spelling
    the characters no token stands for (unknown words, characters left out: `scribe.analysis.spelling`) when the
    backend names its tokens (`token_text`); ValueError when it cannot score. `progress` is told after each text (the
    fraction done counted in characters); a set `cancel` raises ScoringCancelled before the next text. Documents
    (`Text`) are read one at a time, when their turn comes: `Backend.score` takes a whole text."""
    from scribe.analysis.spelling import SpellingModel, unpredicted
    from scribe.engine.scoring import score_text
    from scribe.training.evaluate import Score, ScoringCancelled

    token_text = getattr(backend, "token_text", None)
    spelling: SpellingModel | None = None
    nats, tokens, characters, unknown = 0.0, 0, 0, 0
    total = max(sum(len(t) if isinstance(t, str) else t.characters for t in texts), 1)
    for item in texts:
        if cancel is not None and cancel.is_set():
            raise ScoringCancelled("scoring stopped")
        text = item if isinstance(item, str) else "".join(item.pieces())
        try:
            scores = score_text(backend, text)
        except NotImplementedError:
            raise ValueError(f"{backend.info.name}: the {backend.info.backend} backend cannot score text yet") from None
        nats -= sum(score.logprob for score in scores)
        tokens += len(scores)
        characters += len(text)
        if progress is not None:
            progress(tokens, characters / total)
        if token_text is None:
            continue
        for score in scores:
            missed = unpredicted(score.text, token_text(score.token_id)).split()
            if missed:
                if spelling is None:
                    spelling = SpellingModel.from_tokens(token_text(i) for i in range(backend.info.vocab_size))
                nats += sum(spelling.nats(word) for word in missed)
                unknown += sum(len(word) for word in missed)
    return Score(backend.info.name, nats, tokens, characters, unknown)


def compare_model(name_or_path: str, files: Sequence[str | Path], *, max_length: int | None = None,
                  stride: int | None = None, device: str = "auto", strip_gutenberg: bool = False,
                  join_lines: bool = False, speed_tokens: int = 64, cancel: threading.Event | None = None,
                  progress: "Progress | None" = None, status: Callable[[str], None] | None = None) -> dict[str, Any]:
    """One model's row: its score on `files` and, unless `speed_tokens` is 0, its tokens/s; `cancel`, `progress` and
    `status` as in the module docstring."""
    from scribe.engine.registry import load_model, resolve_model
    from scribe.training.corpus import scratch_store, store_corpus
    from scribe.training.evaluate import ScoringCancelled, evaluate_model

    say = status or (lambda text: None)
    score = texts = None
    kind = resolve_model(name_or_path).kind
    with contextlib.ExitStack() as scratch:
        if kind == "transformers":
            say(f"loading {name_or_path}…")
            score = evaluate_model(name_or_path, files, max_length=max_length, stride=stride, device=device,
                                   strip_gutenberg=strip_gutenberg, join_lines=join_lines, cancel=cancel,
                                   progress=progress)
        else:  # the cleaned text waits on disk; each document is read whole when it is scored
            store = scratch.enter_context(scratch_store(Path(tempfile.gettempdir())))
            texts = store_corpus(files, store, strip_gutenberg=strip_gutenberg, join_lines=join_lines).documents
        speed = None
        if texts is not None or speed_tokens > 0:
            if cancel is not None and cancel.is_set():
                raise ScoringCancelled("scoring stopped")
            say(KERAS_LOADING if kind == "keras" else f"loading {name_or_path} to time it…")
            backend = load_model(name_or_path, device=device)
            try:
                if score is None:
                    say(f"scoring {name_or_path}…")
                    score = backend_score(backend, texts or [], cancel=cancel, progress=progress)
                if speed_tokens > 0:
                    say(f"timing {speed_tokens} tokens of {name_or_path}…")
                    speed = decode_speed(backend, speed_tokens, cancel)
            finally:
                backend.close()
    assert score is not None
    return {"model": score.model, "tokens": score.tokens, "characters": score.characters, "loss": score.loss,
            "perplexity": score.perplexity, "bits_per_char": score.bits_per_char, "max_length": max_length,
            "stride": stride, "tokens_per_s": speed, "unknown_chars": score.unknown_chars}


def overall_row(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The rows of one model on several files pooled: total nats over total tokens and characters."""
    import math

    nats = sum(row["loss"] * row["tokens"] for row in rows)
    tokens, characters = sum(row["tokens"] for row in rows), sum(row["characters"] for row in rows)
    loss = nats / max(tokens, 1)
    return {**rows[0], "file": "(all)", "tokens": tokens, "characters": characters, "loss": loss,
            "perplexity": math.exp(loss) if loss < 700 else math.inf,
            "bits_per_char": nats / max(characters, 1) / math.log(2), "tokens_per_s": None,
            "unknown_chars": sum(row.get("unknown_chars") or 0 for row in rows)}


def row_note(row: dict[str, Any]) -> str | None:
    """A footnote for a row whose characters were partly outside the model's vocabulary (None otherwise)."""
    unknown = row.get("unknown_chars") or 0
    if not unknown:
        return None
    return (f"{row['model']}: {100 * unknown / max(row['characters'], 1):.1f} % of the characters fall in unknown "
            "words or characters its vocabulary lacks; they are charged by a character model of its vocabulary "
            "(scribe.analysis.spelling), not scored as if the unknown token spelled them")


def row_cells(row: dict[str, Any]) -> tuple[str, ...]:
    """A row's values as table cells, in COLUMNS order."""
    speed = row.get("tokens_per_s")
    name = str(row["model"]) + (f" {row['file']}" if row.get("file") else "")
    return (name, f"{row['tokens']:,}", f"{row['characters']:,}", f"{row['loss']:.4f}",
            f"{row['perplexity']:.2f}", f"{row['bits_per_char']:.4f}", "-" if speed is None else f"{speed:.1f}")
