"""A fake of KoboldCpp's KoboldAI API, following its documented wire format.

Source: KoboldCpp's API documentation (served at `/api` by KoboldCpp; koboldcpp's `kcpp_docs.embd`): `GET
/api/v1/model` (`{"result": "koboldcpp/NAME"}`), `GET /api/extra/version` (`{"result": "KoboldCpp", "version"}`),
`GET /api/extra/true_max_context_length` (`{"value": N}`), `POST /api/extra/tokencount` (`{"value": N, "ids"}`),
`POST /api/v1/generate` (`{"results": [{"text", "finish_reason"}]}`) and `POST /api/extra/generate/stream`, the same
generation as server-sent events `event: message` / `data: {"token": "...", "finish_reason": null}`, the last one with
`finish_reason` "length" or "stop". `banned_tokens` is honoured: a banned word of the script is replaced by " dog".
"""

from __future__ import annotations

import time

from servers.fake_base import SCRIPT, FakeServer, Reply


class KoboldCppServer(FakeServer):
    routes = {
        ("GET", "/api/v1/model"): "model_route",
        ("GET", "/api/extra/version"): "version",
        ("GET", "/api/extra/true_max_context_length"): "max_context",
        ("POST", "/api/extra/tokencount"): "tokencount",
        ("POST", "/api/v1/generate"): "generate",
        ("POST", "/api/extra/generate/stream"): "generate_stream",
    }

    def model_route(self, reply: Reply, body: dict) -> None:
        reply.json(200, {"result": f"koboldcpp/{self.model}"})

    def version(self, reply: Reply, body: dict) -> None:
        reply.json(200, {"result": "KoboldCpp", "version": "1.98", "protected": False, "txt2img": False})

    def max_context(self, reply: Reply, body: dict) -> None:
        reply.json(200, {"value": self.context_length})

    def tokencount(self, reply: Reply, body: dict) -> None:
        words = body["prompt"].split()
        reply.json(200, {"value": len(words), "ids": list(range(len(words)))})

    def _tokens(self, body: dict) -> tuple[list[str], str]:
        banned = {b.strip() for b in body.get("banned_tokens") or ()}
        limit = int(body.get("max_length", 100))
        words = [" dog" if w.strip() in banned else w for w in SCRIPT[:limit]]
        return words, "length" if len(words) == limit else "stop"

    def generate(self, reply: Reply, body: dict) -> None:
        words, finish = self._tokens(body)
        reply.json(200, {"results": [{"text": "".join(words), "finish_reason": finish}]})

    def generate_stream(self, reply: Reply, body: dict) -> None:
        words, finish = self._tokens(body)
        reply.start_stream()
        for word in words:
            reply.event({"token": word, "finish_reason": None}, name="message")
            self.sent_tokens += 1
            time.sleep(self.pace_s)
        reply.event({"token": "", "finish_reason": finish}, name="message")
        reply.end()
