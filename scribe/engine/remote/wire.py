"""Reading a streamed answer so that no server can hang scribe or make it hold an unbounded amount of data.

`Guard` watches one answer from a thread of its own and shuts the socket down when the writer cancels, when no text
arrived for the stall time (keep-alive comments and events without text do not count: only `fed()` resets it), or
when the overall deadline passes; the blocked read then returns at once and `tripped` says why. `lines` splits the
body into lines no longer than `MAX_LINE` bytes, `sse_data` and `ndjson` turn lines into the data of each event,
`decode` parses one as JSON.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any, Literal

from scribe.engine.remote.shapes import Malformed

MAX_LINE = 1 << 20
"""The longest line (and the largest event) accepted, in bytes: a larger one is malformed."""
_POLL_S = 0.05

Trip = Literal["cancelled", "stalled", "deadline"]


class Guard:
    """Closes an answer's connection on cancel, stall or deadline (see the module docstring)."""

    def __init__(self, cancel: threading.Event, stall_s: float, deadline: float | None) -> None:
        self.cancel, self.stall_s, self.deadline = cancel, stall_s, deadline
        self.tripped: Trip | None = None
        self._last_text = time.monotonic()
        self._done = threading.Event()
        self._socket: socket.socket | None = None

    def watch(self, network_stream: Any) -> "Guard":
        """Start watching the connection under a response (`response.extensions["network_stream"]`)."""
        if network_stream is not None:
            self._socket = network_stream.get_extra_info("socket")
        threading.Thread(target=self._watch, name="remote-guard", daemon=True).start()
        return self

    def fed(self) -> None:
        """Text arrived: restart the stall timer."""
        self._last_text = time.monotonic()

    def check(self) -> Trip | None:
        """Why the answer must end now, if it must."""
        now = time.monotonic()
        if self.cancel.is_set():
            return "cancelled"
        if self.deadline is not None and now >= self.deadline:
            return "deadline"
        if now - self._last_text >= self.stall_s:
            return "stalled"
        return None

    def trip_now(self) -> bool:
        """Check at once (between events, without waiting for the watcher); True when the answer must end."""
        if self.tripped is None:
            self.tripped = self.check()
        return self.tripped is not None

    def stop(self) -> None:
        """Stop watching (the answer is over)."""
        self._done.set()

    def _watch(self) -> None:
        while not self._done.wait(_POLL_S):
            reason = self.check()
            if reason is not None:
                self.tripped = reason
                if self._socket is not None:
                    try:
                        self._socket.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                return


def lines(chunks: Iterable[bytes], limit: int = MAX_LINE) -> Iterator[str]:
    """The lines of a body (without their line ends), decoded as UTF-8; Malformed when one is longer than `limit`."""
    buffer = bytearray()
    scanned = 0
    for chunk in chunks:
        buffer += chunk
        start = 0
        while (end := buffer.find(b"\n", scanned)) >= 0:
            yield bytes(buffer[start:end]).rstrip(b"\r").decode("utf-8", "replace")
            start = scanned = end + 1
        del buffer[:start]
        scanned = len(buffer)
        if len(buffer) > limit:
            raise Malformed(f"a line longer than {limit // 1024} KiB")
    if buffer:
        yield bytes(buffer).rstrip(b"\r").decode("utf-8", "replace")


def sse_data(body_lines: Iterable[str], limit: int = MAX_LINE) -> Iterator[str]:
    """The data of each server-sent event (multi-line data joined; comments and other fields skipped)."""
    buffer: list[str] = []
    size = 0
    for line in body_lines:
        if not line:
            if buffer:
                yield "\n".join(buffer)
                buffer, size = [], 0
        elif line.startswith("data:"):
            data = line[5:].removeprefix(" ")
            size += len(data)
            if size > limit:
                raise Malformed(f"an event larger than {limit // 1024} KiB")
            buffer.append(data)
    if buffer:
        yield "\n".join(buffer)


def ndjson(body_lines: Iterable[str]) -> Iterator[str]:
    """The non-empty lines of a newline-delimited JSON body."""
    return (line for line in body_lines if line.strip())


def decode(data: str) -> Any:
    """The JSON value of an event; Malformed when it is not JSON (or nested too deeply to read)."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise Malformed(f"not JSON: {data[:40]!r}") from None
