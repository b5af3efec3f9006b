"""An OpenAI-compatible completions server on 127.0.0.1 for the remote backend's tests, with faults on purpose.

`POST /v1/completions` with `"stream": true` answers server-sent events over chunked HTTP/1.1, one token per event,
from a fixed script of words, with `logprobs` (the chosen token and its top alternatives) when asked, a final event
with `finish_reason`, a usage event when `stream_options.include_usage` is set, then `data: [DONE]`. `GET /v1/models`
lists the one model; `POST /tokenize` (vLLM's) counts words. `fault` makes it misbehave after `fault_after` tokens: "drop" (closes the connection mid-stream),
"invalid_json", "stall" (sends nothing more until the client goes away), "no_done" (ends the body cleanly but early),
or `status` answers every completion with that HTTP status. Every request body is kept in `requests`.
"""

from __future__ import annotations

import json
import math
import select
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SCRIPT = (" The", " cat", " sat", " on", " the", " mat", ".", " It", " was", " warm", ".")


class CompletionServer:
    """Start with `with CompletionServer() as server:`; `server.url` is the base URL (ending in /v1)."""

    def __init__(self, *, model: str = "tiny", api_key: str | None = None, context_length: int = 128) -> None:
        self.model, self.api_key, self.context_length = model, api_key, context_length
        self.requests: list[dict] = []
        self.authorizations: list[str | None] = []
        self.fault: str | None = None
        self.fault_after = 3
        self.status: int | None = None
        self.logprobs = True
        self.pace_s = 0.0
        self.sent_tokens = 0
        self.client_left = threading.Event()
        """Set when the client closed the connection before the stream's end."""
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> "CompletionServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def logprob(index: int, rank: int) -> float:
    """The log-probability the server reports for the token at `index` of the script (rank 0) and its alternatives."""
    return math.log(0.6 / (rank + 1)) - 0.01 * index


def _handler(server: CompletionServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/v1/models":
                if not self._authorized():
                    return
                data = {"object": "list", "data": [{"id": server.model, "object": "model",
                                                     "max_model_len": server.context_length}]}
                return self._json(200, data)
            self._json(404, {"error": {"message": "no such route"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path == "/tokenize":  # vLLM's extra route; this server counts words
                return self._json(200, {"count": len(body["prompt"].split()), "max_model_len": server.context_length})
            if self.path.rstrip("/") != "/v1/completions":
                return self._json(404, {"error": {"message": "no such route"}})
            server.requests.append(body)
            server.authorizations.append(self.headers.get("Authorization"))
            if not self._authorized():
                return
            if server.status is not None:
                return self._json(server.status, {"error": {"message": f"failure number {server.status}", "type": "server_error"}})
            if body.get("model") != server.model:
                return self._json(404, {"error": {"message": f"model {body.get('model')!r} not found"}})
            self._stream(body)

        def _authorized(self) -> bool:
            given = self.headers.get("Authorization")
            if server.api_key is None or given == f"Bearer {server.api_key}":
                return True
            key = (given or "").removeprefix("Bearer ")
            self._json(401, {"error": {"message": f"Incorrect API key provided: {key}", "type": "invalid_request_error"}})
            return False

        def _stream(self, body: dict) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            n_alts = int(body.get("logprobs") or 0)
            limit = int(body.get("max_tokens", 16))
            count = min(limit, len(SCRIPT))
            try:
                for i in range(count):
                    if server.fault and i == server.fault_after:
                        return self._misbehave()
                    choice = {"index": 0, "text": SCRIPT[i], "finish_reason": None,
                              "logprobs": self._logprobs(i, n_alts) if server.logprobs and n_alts else None}
                    self._event(json.dumps({"object": "text_completion", "model": server.model, "choices": [choice]}))
                    server.sent_tokens += 1
                    time.sleep(server.pace_s)
                finish = "length" if count == limit else "stop"
                self._event(json.dumps({"choices": [{"index": 0, "text": "", "finish_reason": finish}]}))
                if (body.get("stream_options") or {}).get("include_usage"):
                    usage = {"prompt_tokens": len(body["prompt"].split()), "completion_tokens": count}
                    self._event(json.dumps({"choices": [], "usage": usage}))
                self._event("[DONE]")
                self._chunk(b"")
            except (BrokenPipeError, ConnectionResetError):
                server.client_left.set()
                self.close_connection = True

        def _logprobs(self, i: int, n_alts: int) -> dict:
            top = {SCRIPT[i]: logprob(i, 0)}
            for rank in range(1, n_alts):
                top[f" alt{rank}"] = logprob(i, rank)
            return {"tokens": [SCRIPT[i]], "token_logprobs": [logprob(i, 0)], "top_logprobs": [top], "text_offset": [0]}

        def _misbehave(self) -> None:
            self.close_connection = True
            if server.fault == "invalid_json":
                self._event('{"choices": [{"text": " broken')
                self._event("[DONE]")
                self._chunk(b"")
            elif server.fault == "no_done":
                self._chunk(b"")
            elif server.fault == "stall":
                readable, _, _ = select.select([self.connection], [], [], 10.0)
                if readable and not self.connection.recv(1):
                    server.client_left.set()
            # "drop": return without the closing chunk; the server closes the connection

        def _event(self, data: str) -> None:
            self._chunk(f"data: {data}\n\n".encode())

        def _chunk(self, payload: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
            self.wfile.flush()

        def _json(self, status: int, data: dict) -> None:
            payload = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler
