"""What the faithful fake servers share: a threaded HTTP/1.1 server on 127.0.0.1, a script of tokens with known
log-probabilities, chunked writing, and a record of every request.

A fake subclasses `FakeServer`, names its routes in `routes` ({(method, path): handler name}) and writes answers with
the `Reply` helpers. `pace_s` slows the tokens; `client_left` is set when the client closed the connection before the
answer's end; `sent_tokens` counts the tokens written.
"""

from __future__ import annotations

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SCRIPT = (" The", " cat", " sat", " on", " the", " mat", ".", " It", " was", " warm", ".")


def logprob(index: int, rank: int) -> float:
    """The log-probability a fake reports for the token at `index` of the script (rank 0) and its alternatives."""
    return math.log(0.6 / (rank + 1)) - 0.01 * index


def top(index: int, n: int) -> list[tuple[str, float]]:
    """The script token at `index` and `n - 1` alternatives, most likely first."""
    return [(SCRIPT[index], logprob(index, 0))] + [(f" alt{r}", logprob(index, r)) for r in range(1, n)]


class Reply:
    """Writing one answer: JSON, or a chunked stream of server-sent events or JSON lines."""

    def __init__(self, handler: BaseHTTPRequestHandler, server: "FakeServer") -> None:
        self.handler, self.server = handler, server

    def json(self, status: int, data: Any) -> None:
        payload = json.dumps(data).encode()
        h = self.handler
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        h.wfile.write(payload)

    def start_stream(self, content_type: str = "text/event-stream") -> None:
        h = self.handler
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()

    def chunk(self, payload: bytes) -> None:
        self.handler.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
        self.handler.wfile.flush()

    def event(self, data: Any, *, name: str | None = None) -> None:
        text = data if isinstance(data, str) else json.dumps(data)
        prefix = f"event: {name}\n" if name else ""
        self.chunk(f"{prefix}data: {text}\n\n".encode())

    def line(self, data: Any) -> None:
        self.chunk((json.dumps(data) + "\n").encode())

    def end(self) -> None:
        self.chunk(b"")


class FakeServer:
    """Start with `with Fake() as server:`; `server.root` is http://127.0.0.1:PORT."""

    routes: dict[tuple[str, str], str] = {}

    def __init__(self, *, model: str = "tiny", context_length: int = 128) -> None:
        self.model, self.context_length = model, context_length
        self.requests: list[tuple[str, dict]] = []
        self.pace_s = 0.0
        self.sent_tokens = 0
        self.logprobs = True
        self.client_left = threading.Event()
        self._httpd = _QuietServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def root(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def bodies(self, path: str) -> list[dict]:
        """The JSON bodies of the requests to `path`, oldest first."""
        return [body for p, body in self.requests if p == path]

    def __enter__(self) -> "FakeServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up (as the client under test does on purpose) are not reported as errors."""

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def _handler(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            self._route("GET", {})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._route("POST", json.loads(self.rfile.read(length) or b"{}"))

        def _route(self, method: str, body: dict) -> None:
            path = self.path.split("?")[0].rstrip("/")
            server.requests.append((path, body))
            reply = Reply(self, server)
            name = server.routes.get((method, path))
            if name is None:
                return reply.json(404, {"error": {"message": f"no route {method} {path}"}})
            try:
                getattr(server, name)(reply, body)
            except (BrokenPipeError, ConnectionResetError):
                server.client_left.set()
                self.close_connection = True

    return Handler
