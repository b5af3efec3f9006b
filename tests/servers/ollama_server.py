"""A fake of Ollama's native API, following its documented wire format.

Source: Ollama's docs/api.md ("Generate a completion", "List Local Models", "Show Model Information", "Version").
`POST /api/generate` with `stream: true` answers newline-delimited JSON (`application/x-ndjson`): one
`{model, created_at, response, done: false}` object per token, then `{model, created_at, response: "", done: true,
done_reason, total_duration, prompt_eval_count, eval_count}`; with `logprobs: true` (servers from 0.12.11) each object
carries `logprobs: [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}]` (`top_logprobs` entries when
`top_logprobs` > 0). `version` below 0.12.11 ignores the logprobs request, as those servers do. Without `raw: true`
the fake wraps the prompt in a chat template, so a test can tell. `GET /api/tags` lists models by `name` with tag.
"""

from __future__ import annotations

import time

from servers.fake_base import SCRIPT, FakeServer, Reply, top


class OllamaServer(FakeServer):
    routes = {
        ("GET", "/api/tags"): "tags",
        ("GET", "/api/version"): "version_route",
        ("POST", "/api/show"): "show",
        ("POST", "/api/generate"): "generate",
    }

    def __init__(self, *, model: str = "qwen2.5:7b", version: str = "0.12.11", **kwargs) -> None:
        super().__init__(model=model, **kwargs)
        self.version = version

    @property
    def has_logprobs(self) -> bool:
        return tuple(int(p) for p in self.version.split(".")) >= (0, 12, 11)

    def version_route(self, reply: Reply, body: dict) -> None:
        reply.json(200, {"version": self.version})

    def tags(self, reply: Reply, body: dict) -> None:
        reply.json(200, {"models": [{"name": name, "model": name, "size": 1, "digest": "0" * 64,
                                     "details": {"format": "gguf", "family": "qwen2"}}
                                    for name in (self.model, "llama3.2:latest")]})

    def show(self, reply: Reply, body: dict) -> None:
        if body.get("model") != self.model:
            return reply.json(404, {"error": f"model '{body.get('model')}' not found"})
        reply.json(200, {"parameters": f"num_ctx                        {self.context_length}\nstop \"<|im_end|>\"",
                         "model_info": {"general.architecture": "qwen2", "qwen2.context_length": 32768}})

    def generate(self, reply: Reply, body: dict) -> None:
        if body.get("model") != self.model:
            return reply.json(404, {"error": f"model '{body.get('model')}' not found, try pulling it first"})
        options = body.get("options") or {}
        limit = int(options.get("num_predict", -1))
        count = len(SCRIPT) if limit < 0 else min(limit, len(SCRIPT))
        prompt = body["prompt"] if body.get("raw") else f"<|im_start|>user\n{body['prompt']}<|im_end|>"
        n_top = int(body.get("top_logprobs") or 0)
        reply.start_stream("application/x-ndjson")
        for i in range(count):
            line = {"model": self.model, "created_at": "2025-11-20T10:00:00Z", "response": SCRIPT[i], "done": False}
            if body.get("logprobs") and self.has_logprobs and self.logprobs:
                ranked = top(i, max(n_top, 1))
                line["logprobs"] = [{"token": SCRIPT[i], "logprob": ranked[0][1], "bytes": list(SCRIPT[i].encode()),
                                     "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode())}
                                                      for t, lp in ranked[:n_top]]}]
            reply.line(line)
            self.sent_tokens += 1
            time.sleep(self.pace_s)
        reply.line({"model": self.model, "created_at": "2025-11-20T10:00:01Z", "response": "", "done": True,
                    "done_reason": "length" if count == limit else "stop", "total_duration": 1000,
                    "prompt_eval_count": len(prompt.split()), "eval_count": count})
        reply.end()
