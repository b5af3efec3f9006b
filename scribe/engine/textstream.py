"""Turning a stream of token ids into a stream of text, shared by every backend.

`IncrementalDecoder` yields the text each new token adds. Byte-level BPE tokenizers (GPT-2 and most others) can split
one character (an emoji, a CJK character) over several tokens; while the character is incomplete its decoded text ends
in U+FFFD, so that text is held back until a later token completes it.

`StopMatcher` cuts the text before the first stop string. Text that could still become the start of a stop string is
held back until it is decided: released when the next text rules the stop string out, dropped (with everything after it)
when the stop string completes. So text that was released is never taken back.

`TextStream` chains the two. When a stream ends without a stop string, `finish()` returns what is still held back (an
incomplete character, decoded as U+FFFD, or a suffix that only looked like the start of a stop string); backends add it
to `StreamEnd.text`, so the `TokenStep` texts always add up to a prefix of `StreamEnd.text`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

REPLACEMENT_CHAR = "\ufffd"


class IncrementalDecoder:
    """Decode token ids one at a time into text deltas.

    `decode` turns a list of ids into text; it must not clean up spaces (decoding a window at a time has to give the
    same characters as decoding everything at once). Only a short window of recent ids is decoded per token.
    """

    def __init__(self, decode: Callable[[Sequence[int]], str]) -> None:
        self._decode = decode
        self._ids: list[int] = []
        self._prefix = 0  # start of the window that gives context to the next token (for leading spaces)
        self._read = 0  # ids before this are already turned into released text

    def push(self, token_id: int) -> str:
        """Add one token; return the text it completes ("" while a character is incomplete)."""
        self._ids.append(token_id)
        prefix_text = self._decode(self._ids[self._prefix : self._read])
        new_text = self._decode(self._ids[self._prefix :])
        if len(new_text) > len(prefix_text) and not new_text.endswith(REPLACEMENT_CHAR):
            self._prefix, self._read = self._read, len(self._ids)
            return new_text[len(prefix_text) :]
        return ""

    def flush(self) -> str:
        """The text still held back (ending in U+FFFD when the last character never completed)."""
        prefix_text = self._decode(self._ids[self._prefix : self._read])
        new_text = self._decode(self._ids[self._prefix :])
        self._prefix = self._read = len(self._ids)
        return new_text[len(prefix_text) :]


class StopMatcher:
    """Release text up to (not including) the first stop string, holding back what might start one."""

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._pending = ""
        self.stopped = False
        """True once a stop string was found; later text is ignored."""

    def push(self, text: str) -> str:
        """Add text; return the part that is now known to come before any stop string."""
        if self.stopped:
            return ""
        pending = self._pending + text
        cut = min((i for i in (pending.find(s) for s in self._stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            self._pending = ""
            return pending[:cut]
        hold = self._held_length(pending)
        self._pending = pending[len(pending) - hold :] if hold else ""
        return pending[: len(pending) - hold]

    def flush(self) -> str:
        """At the end of the stream: the held-back text, which turned out not to be a stop string."""
        pending, self._pending = self._pending, ""
        return "" if self.stopped else pending

    def _held_length(self, text: str) -> int:
        """Length of the longest suffix of `text` that is a proper prefix of some stop string."""
        best = 0
        for stop in self._stops:
            for n in range(min(len(stop) - 1, len(text)), best, -1):
                if text.endswith(stop[:n]):
                    best = n
                    break
        return best


class TextStream:
    """Token ids (or text pieces) in, released continuation text out: incremental decoding followed by stop-string
    matching. Without `decode` only text pieces can be pushed (`push_text`: tokens a server decoded already)."""

    def __init__(self, decode: Callable[[Sequence[int]], str] | None, stops: Sequence[str] = ()) -> None:
        self._decoder = IncrementalDecoder(decode) if decode is not None else None
        self._matcher = StopMatcher(stops)
        self.text = ""
        """Everything released so far (by `push` and `finish`)."""

    @property
    def stopped(self) -> bool:
        """True once a stop string appeared; the stream should end."""
        return self._matcher.stopped

    def push(self, token_id: int) -> str:
        """Add one token; return the text released by it."""
        if self._decoder is None:
            raise ValueError("this TextStream has no decoder: push text pieces with push_text")
        return self.push_text(self._decoder.push(token_id))

    def push_text(self, piece: str) -> str:
        """Add a piece of decoded text; return the text released by it."""
        released = self._matcher.push(piece)
        self.text += released
        return released

    def finish(self) -> str:
        """End of the stream: release what is still held back (nothing if a stop string was found)."""
        released = self._matcher.push(self._decoder.flush()) if self._decoder is not None else ""
        released += self._matcher.flush()
        self.text += released
        return released
