"""A fake of vLLM's OpenAI-compatible server, following its documented wire format.

Source: OpenAI's API reference (Completions and Chat Completions, streaming) and vLLM's docs ("OpenAI-Compatible
Server": extra sampling parameters top_k, min_p, repetition_penalty; `/tokenize`; `/v1/models` entries with
`owned_by: "vllm"` and `max_model_len`). `POST /v1/completions` streams `{choices: [{text, logprobs: {tokens,
token_logprobs, top_logprobs: [{token: logprob}], text_offset}, finish_reason}]}` events; `POST /v1/chat/completions`
streams `{choices: [{delta: {role?, content}, logprobs: {content: [{token, logprob, bytes, top_logprobs: [...]}]},
finish_reason}]}`; both end with a usage event (when `stream_options.include_usage`) and `data: [DONE]`. The chat
fake answers with the script whatever the message, and keeps the messages it got.
"""

from __future__ import annotations

import time

from servers.fake_base import SCRIPT, FakeServer, Reply, top


class VllmServer(FakeServer):
    routes = {
        ("GET", "/v1/models"): "models",
        ("POST", "/v1/completions"): "completions",
        ("POST", "/v1/chat/completions"): "chat",
        ("POST", "/tokenize"): "tokenize",
    }

    def models(self, reply: Reply, body: dict) -> None:
        reply.json(200, {"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "vllm",
                                                      "max_model_len": self.context_length}]})

    def tokenize(self, reply: Reply, body: dict) -> None:
        words = body["prompt"].split()
        reply.json(200, {"count": len(words), "max_model_len": self.context_length, "tokens": list(range(len(words)))})

    def _stream(self, reply: Reply, body: dict, choice) -> None:
        count = min(int(body.get("max_tokens", 16)), len(SCRIPT))
        reply.start_stream()
        for i in range(count):
            reply.event({"id": "cmpl-1", "model": self.model, "choices": [choice(i)]})
            self.sent_tokens += 1
            time.sleep(self.pace_s)
        finish = "length" if count == body.get("max_tokens") else "stop"
        end = {"index": 0, "finish_reason": finish, **({"delta": {}} if "messages" in body else {"text": ""})}
        reply.event({"id": "cmpl-1", "model": self.model, "choices": [end]})
        if (body.get("stream_options") or {}).get("include_usage"):
            prompt = body.get("prompt") or " ".join(m["content"] for m in body["messages"])
            reply.event({"id": "cmpl-1", "choices": [], "usage": {"prompt_tokens": len(prompt.split()),
                                                                  "completion_tokens": count}})
        reply.event("[DONE]")
        reply.end()

    def completions(self, reply: Reply, body: dict) -> None:
        n = int(body.get("logprobs") or 0)

        def choice(i: int) -> dict:
            ranked = dict(top(i, n)) if n else None
            logprobs = {"tokens": [SCRIPT[i]], "token_logprobs": [top(i, 1)[0][1]], "top_logprobs": [ranked],
                        "text_offset": [0]} if n and self.logprobs else None
            return {"index": 0, "text": SCRIPT[i], "logprobs": logprobs, "finish_reason": None}

        self._stream(reply, body, choice)

    def chat(self, reply: Reply, body: dict) -> None:
        n = int(body.get("top_logprobs") or 0) if body.get("logprobs") else 0

        def choice(i: int) -> dict:
            content = None
            if body.get("logprobs") and self.logprobs:
                ranked = top(i, max(n, 1))
                content = {"content": [{"token": SCRIPT[i], "logprob": ranked[0][1], "bytes": list(SCRIPT[i].encode()),
                                        "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode())}
                                                         for t, lp in ranked[:n]]}]}
            delta = {"role": "assistant", "content": SCRIPT[i]} if i == 0 else {"content": SCRIPT[i]}
            return {"index": 0, "delta": delta, "logprobs": content, "finish_reason": None}

        self._stream(reply, body, choice)
