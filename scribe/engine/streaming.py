"""The one stream loop every backend's `stream` goes through, and the feed for backends that give next-token logits.

`stream_loop(produce, ...)` owns the contract of `Backend.stream`:
- each token becomes a `TokenStep` whose `elapsed_s` is the time from the consumer asking for it to it being ready;
- text is released through `TextStream` (incomplete characters and possible starts of a stop string are held back; a
  stop string ends the stream with "stop_string" and is cut off);
- cancellation (the `threading.Event`) is checked before every token, so it stops within one token;
- an end-of-sequence token ends the stream ("eos") and is not yielded;
- any exception ends the stream with reason "error", a one-line message and the text so far;
- exactly one `StreamEnd` comes last, unless the consumer stops reading (then nothing more is computed).

`produce(run)` yields what the backend chose, one item per token: a `SampleResult` (a token id that the loop decodes)
or a `SampledPiece` (text a server decoded already, with the log-probabilities it reported). It may set
`run.prompt_tokens` and end early by setting `run.reason` ("context_full", "cancelled") and returning.

`TokenBackend` writes `stream` and `chat` once for the backends that tokenize their prompts themselves (transformers,
GGUF), with `fit_prompt` fitting a prompt to the context and `chat_answer_tokens` the answer to what chat messages
leave of it.

`sampled_tokens(...)` is the `produce` of every backend that supplies logits (`LogitSteps`): scribe's `Sampler` picks
each token, so every setting, the X-ray, alternatives and seeds work the same on every such backend. Banned phrases
(`SamplingParams.banned_phrases`) are applied here: tokens that could still be the start of a banned phrase are held
back, and when one forms, the steps rewind to where it began and that position is sampled again with the phrase's
first token banned there (the "anti-slop" backtracking of KoboldCpp).
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from abc import abstractmethod
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from scribe.engine.base import Backend, Capability, Message
from scribe.engine.textstream import TextStream
from scribe.sampling.params import SamplingParams
from scribe.sampling.processors import Ranker
from scribe.sampling.sampler import SampleResult, Sampler
from scribe.types import Alternative, StopReason, StreamEnd, TokenStep, prompt_budget

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class SampledPiece:
    """A token a server sampled and decoded: its text, probability (NaN when unknown) and alternatives."""

    text: str
    prob: float
    alternatives: tuple[Alternative, ...] = ()


@dataclass
class StreamRun:
    """The state of one stream that `produce` may read and set."""

    cancel: threading.Event
    prompt_tokens: int = 0
    reason: StopReason = "max_tokens"
    """Why the stream ended: `produce` sets "context_full" or "cancelled" before it returns early."""
    error: str | None = None
    """With reason "error": the one-line message, when `produce` ends the stream on a failure it explains itself."""


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message, short enough for a status bar or dialog."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def stream_loop(
    produce: Callable[[StreamRun], Iterator[SampleResult | SampledPiece]],
    *,
    decode: Callable[[Sequence[int]], str] | None,
    stops: Sequence[str] = (),
    eos: frozenset[int] = frozenset(),
    cancel: threading.Event | None = None,
) -> Generator[TokenStep | StreamEnd, None, None]:
    """Run `produce` under the stream contract (module docstring). `decode` turns token ids into text (None when every
    item is a `SampledPiece`)."""
    run = StreamRun(cancel or threading.Event())
    start = last = time.perf_counter()
    text = TextStream(decode, stops)
    error: str | None = None
    tokens = 0
    first_token_s = 0.0
    try:
        items = produce(run)
        while True:
            if run.cancel.is_set():
                run.reason = "cancelled"
                break
            item = next(items, None)
            if item is None:
                break
            if isinstance(item, SampledPiece):
                token_id, raw, final, alternatives = -1, item.prob, item.prob, item.alternatives
                piece = text.push_text(item.text)
            else:
                if item.token_id in eos:
                    run.reason = "eos"
                    break
                token_id, raw, final, alternatives = item.token_id, item.raw_prob, item.final_prob, item.alternatives
                piece = text.push(item.token_id)
            now = time.perf_counter()
            if tokens == 0:
                first_token_s = now - start
            yield TokenStep(index=tokens, token_id=token_id, text=piece, raw_prob=raw, final_prob=final,
                            alternatives=alternatives, elapsed_s=now - last)
            tokens += 1
            last = time.perf_counter()  # the next token's time starts when the consumer asks for it
            if text.stopped:
                run.reason = "stop_string"
                break
        text.finish()
    except Exception as exc:  # the contract: end with StreamEnd(reason="error"), never raise
        run.reason, error = "error", f"{type(exc).__name__}: {one_line(exc)}"
    yield StreamEnd(reason=run.reason, text=text.text, tokens=tokens, prompt_tokens=run.prompt_tokens,
                    elapsed_s=time.perf_counter() - start, first_token_s=first_token_s, error=error or run.error)


def fit_prompt(ids: list[int], *, context_length: int, max_new_tokens: int, start: int | None,
               bos: int | None) -> list[int]:
    """A prompt's ids cut from the left to leave room for `max_new_tokens` (a leading start token `bos` kept), or
    `[start]` for an empty prompt (ValueError when there is no token to start from)."""
    if not ids:
        if start is None or start < 0:
            raise ValueError("empty prompt and the model has no start or end token to start from")
        ids = [start]
    budget = prompt_budget(context_length, max_new_tokens)
    if len(ids) > budget:
        keep_bos = budget > 1 and bos is not None and ids[0] == bos
        ids = ids[:1] + ids[len(ids) - budget + 1 :] if keep_bos else ids[len(ids) - budget :]
    return ids


MIN_CHAT_ANSWER = 16
"""The fewest answer tokens a chat runs with when its messages fill most of the context (fewer: refused)."""


def chat_answer_tokens(prompt_tokens: int, *, context_length: int, max_new_tokens: int) -> int:
    """The answer's token limit after chat messages of `prompt_tokens`: `max_new_tokens`, capped to what the context
    leaves. Messages cannot be cut from the left like a text, so when they leave fewer than `MIN_CHAT_ANSWER` tokens
    (or than `max_new_tokens`, when that is smaller) they are refused with a ValueError saying what to do."""
    answer = min(max_new_tokens, context_length - prompt_tokens)
    if answer < min(max_new_tokens, MIN_CHAT_ANSWER):
        raise ValueError(
            f"the passage with the action's instructions takes {prompt_tokens} tokens and this model's context is "
            f"{context_length}, leaving no room for an answer: select a shorter passage (or load a model with a "
            "longer context)")
    return answer


class TokenTexts(dict[int, str]):
    """Each token's own text, decoded the first time it is asked for (the sampler names alternatives with it)."""

    def __init__(self, decode: Callable[[Sequence[int]], str]) -> None:
        super().__init__()
        self._decode = decode

    def __missing__(self, token_id: int) -> str:
        text = self[token_id] = self._decode([token_id])
        return text


class TokenBackend(Backend):
    """A backend that tokenizes its prompts and chooses every token itself (transformers, GGUF): `stream` and `chat`
    are written once here, around what a subclass supplies: its prompt's ids (`_prompt_ids`, `_chat_ids`), the
    tokens after them (`_tokens`), `_decode` and the end tokens `_eos`. The prompt is built inside the stream loop,
    so its errors end the stream like any other."""

    _eos: frozenset[int]

    @abstractmethod
    def _prompt_ids(self, prompt: str, max_new_tokens: int) -> list[int]:
        """The ids of a text to continue, cut to fit (`fit_prompt`)."""

    @abstractmethod
    def _chat_ids(self, messages: Sequence[Message]) -> list[int]:
        """The ids of `messages` through the model's chat template, ready for the assistant's answer."""

    @abstractmethod
    def _tokens(self, ids: list[int], params: SamplingParams, run: StreamRun,
                alternatives: int) -> Iterator[SampleResult]:
        """The tokens chosen after `ids` (the `produce` of the stream loop, once the prompt is built)."""

    @abstractmethod
    def _decode(self, ids: Sequence[int]) -> str:
        """The text of `ids`."""

    @functools.cached_property
    def _token_texts(self) -> TokenTexts:
        return TokenTexts(self._decode)

    def token_text(self, token_id: int) -> str:
        """The text of one token (remembered)."""
        return self._token_texts[token_id]

    def stream(
        self,
        prompt: str,
        params: SamplingParams,
        *,
        alternatives: int = 5,
        cancel: threading.Event | None = None,
    ) -> Iterator[TokenStep | StreamEnd]:
        """Continue `prompt` one token at a time through `stream_loop`. The prompt is cut from the left to leave room
        for `max_new_tokens` (keeping at least half the context); when the context fills up the stream ends with
        "context_full"."""
        return self._stream_ids(lambda: (self._prompt_ids(prompt, params.max_new_tokens), params), params,
                                alternatives, cancel)

    def chat(
        self,
        messages: Sequence[Message],
        params: SamplingParams,
        *,
        alternatives: int = 5,
        cancel: threading.Event | None = None,
    ) -> Iterator[TokenStep | StreamEnd]:
        """The assistant's answer to `messages` through the model's chat template, at most what the context leaves
        after them (`chat_answer_tokens`; messages that leave no room for an answer end the stream with an error: they
        are not cut)."""
        if not self.supports(Capability.CHAT):
            raise NotImplementedError(self.unavailable(Capability.CHAT))

        def prompt() -> tuple[list[int], SamplingParams]:
            ids = self._chat_ids(messages)
            answer = chat_answer_tokens(len(ids), context_length=self.info.context_length,
                                        max_new_tokens=params.max_new_tokens)
            return ids, params if answer == params.max_new_tokens else params.replace(max_new_tokens=answer)

        return self._stream_ids(prompt, params, alternatives, cancel)

    def _stream_ids(self, prompt: Callable[[], tuple[list[int], SamplingParams]], params: SamplingParams,
                    alternatives: int, cancel: threading.Event | None) -> Iterator[TokenStep | StreamEnd]:
        """Stream the tokens after the ids `prompt()` builds (inside the loop, so its errors end the stream), with the
        settings it returns."""
        def produce(run: StreamRun) -> Iterator[SampleResult]:
            if alternatives < 0:
                raise ValueError(f"alternatives must be 0 or more, got {alternatives}")
            ids, settings = prompt()
            run.prompt_tokens = len(ids)
            yield from self._tokens(ids, settings, run, alternatives)

        return stream_loop(produce, decode=self._decode, stops=params.stop, eos=self._eos, cancel=cancel)


class LogitSteps(Protocol):
    """Next-token logits for a growing sequence, with a cache of the positions already run."""

    def reserve(self, capacity: int) -> None:
        """Start a new sequence of at most `capacity` positions."""

    def prefill(self, ids: "torch.Tensor") -> "torch.Tensor":
        """The next-token logits ([vocab]) after the prompt `ids` (1-D)."""

    def step(self, token: "torch.Tensor") -> "torch.Tensor":
        """The next-token logits after one more token (a 1-element tensor)."""

    def rewind(self, length: int) -> None:
        """Forget every position from `length` on (the next `step` runs at position `length`)."""


@dataclass
class _Held:
    """A sampled token not yet released because it could still begin a banned phrase."""

    result: SampleResult
    logits: "torch.Tensor"
    """The logits it was sampled from, to sample its position again if a banned phrase forms."""
    start: int
    """Where its text starts in the generated text."""


def sampled_tokens(
    steps: LogitSteps,
    ids: Sequence[int],
    params: SamplingParams,
    run: StreamRun,
    *,
    context_length: int,
    alternatives: int,
    token_text: Callable[[int], str],
    decode: Callable[[Sequence[int]], str],
    eos: frozenset[int] = frozenset(),
    device: "torch.device | str" = "cpu",
    threads: Callable[[bool], contextlib.AbstractContextManager[object]] | None = None,
    ranker: Ranker | None = None,
) -> Iterator[SampleResult]:
    """Choose tokens after the prompt `ids` with scribe's Sampler on `steps`' logits (the `produce` of a logits
    backend). `threads(prompt)` is a context manager that runs one step on its intra-op threads (`prompt`: the prompt's
    pass; `scribe.engine.threads.StepThreads.scope`); `ranker` is the sampler's partial sort where the engine has a
    faster one than PyTorch's."""

    import torch

    run.prompt_tokens = prompt_tokens = len(ids)
    sampler = Sampler(params, device=device, ranker=ranker)
    sequence = torch.empty(prompt_tokens + params.max_new_tokens, dtype=torch.long, device=device)
    sequence[:prompt_tokens] = torch.tensor(list(ids), dtype=torch.long)
    length = prompt_tokens
    steps.reserve(min(prompt_tokens + params.max_new_tokens, context_length))
    phrases = _PhraseGuard(params.banned_phrases, decode)
    held: list[_Held] = []
    logits: torch.Tensor | None = None
    banned: dict[int, set[int]] = {}  # position -> token ids banned there by a banned phrase
    while length < prompt_tokens + params.max_new_tokens:
        if run.cancel.is_set():
            run.reason = "cancelled"
            return
        if length > context_length:
            run.reason = "context_full"
            break
        prefill = logits is None and length == prompt_tokens
        scope = threads(prefill) if threads else contextlib.nullcontext()
        with scope:
            if prefill:
                logits = steps.prefill(sequence[:length])
            elif logits is None:
                logits = steps.step(sequence[length - 1 : length])
            result = sampler.step(logits, sequence[:length], prompt_tokens, alternatives=alternatives,
                                  decode=token_text, banned=sorted(banned.get(length, ())))
        if result.token_id in eos:  # the stream ends here: what is held back can no longer form a phrase
            yield from (item.result for item in held)
            yield result
            return
        if not phrases.active:
            yield result
            sequence[length] = result.token_id
            length += 1
            logits = None
            continue
        held.append(_Held(result, logits.clone(), phrases.length))
        sequence[length] = result.token_id
        length += 1
        logits = None
        found = phrases.push(sequence[prompt_tokens:length].tolist())
        # a banned phrase formed: sample again where it began, without its first token there
        if found is not None and found >= held[0].start:
            first = next(i for i in range(len(held) - 1, -1, -1) if held[i].start <= found)
            position = length - (len(held) - first)
            banned.setdefault(position, set()).add(held[first].result.token_id)
            logits = held[first].logits
            del held[first:]
            length = position
            phrases.rewind(sequence[prompt_tokens:length].tolist())
            steps.rewind(length)
            continue
        release = phrases.released_up_to()
        while held and _end(held, 0, phrases) <= release:
            yield held.pop(0).result
    for item in held:  # the stream ended before any held text could form a banned phrase
        yield item.result


def _end(held: list[_Held], index: int, phrases: "_PhraseGuard") -> int:
    return held[index + 1].start if index + 1 < len(held) else phrases.length


class _PhraseGuard:
    """Finds banned phrases (case-insensitive) in the generated text and says how much of it is safe to release."""

    def __init__(self, phrases: Sequence[str], decode: Callable[[Sequence[int]], str]) -> None:
        self.phrases = tuple(p.lower() for p in phrases if p)
        self.active = bool(self.phrases)
        self._decode = decode
        self._text = ""
        self._checked = 0  # banned phrases ending before this were looked for already

    @property
    def length(self) -> int:
        """Characters of generated text so far."""
        return len(self._text)

    def push(self, generated: list[int]) -> int | None:
        """The generated ids so far (one more token); where a banned phrase starts if one just formed, else None."""
        self._text = self._decode(generated).lower()
        found = [i for p in self.phrases if (i := self._text.find(p, max(self._checked - len(p) + 1, 0))) >= 0]
        self._checked = len(self._text)
        return min(found) if found else None

    def rewind(self, generated: list[int]) -> None:
        """The generated ids after a rewind."""
        self._text = self._decode(generated).lower() if generated else ""
        self._checked = len(self._text)

    def released_up_to(self) -> int:
        """Characters of the text that can no longer become part of a banned phrase."""
        text = self._text
        hold = 0
        for phrase in self.phrases:
            for n in range(min(len(phrase) - 1, len(text)), hold, -1):
                if text.endswith(phrase[:n]):
                    hold = n
                    break
        return len(text) - hold
