"""A server on 127.0.0.1 that answers every dialect's streaming route the way a test tells it to: with a list of raw
events (each sent as a server-sent event, or as a JSON line on Ollama's route), or with a function that writes
whatever it likes (endless streams, keep-alive trickles, huge lines). For the tests that a hostile or broken server
can neither hang, crash nor flood the client."""

from __future__ import annotations

from collections.abc import Callable

from servers.fake_base import FakeServer, Reply

STREAM_ROUTES = ("/v1/completions", "/v1/chat/completions", "/completion", "/api/generate", "/api/extra/generate/stream")


class HostileServer(FakeServer):
    routes = {("POST", path): "answer" for path in STREAM_ROUTES}

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.events: list[str] = []
        """Raw event payloads (already JSON text), sent in order, then the body ends."""
        self.behaviour: Callable[[Reply, dict], None] | None = None
        self.status = 200
        self.error_body = ""

    def answer(self, reply: Reply, body: dict) -> None:
        if self.status != 200:
            payload = self.error_body.encode()
            h = reply.handler
            h.send_response(self.status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload)
            return
        if self.behaviour is not None:
            return self.behaviour(reply, body)
        ndjson = reply.handler.path == "/api/generate"
        reply.start_stream("application/x-ndjson" if ndjson else "text/event-stream")
        for payload in self.events:
            reply.chunk((payload + "\n").encode() if ndjson else f"data: {payload}\n\n".encode())
        reply.end()
