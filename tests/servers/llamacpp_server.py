"""A fake of llama.cpp's `llama-server`, following its documented wire format.

Source: llama.cpp tools/server/README.md ("POST /completion", "POST /tokenize", "GET /props", "GET /v1/models",
"POST /v1/completions") and tools/server/server-task.cpp (`probs_vector_to_json`, `to_json_non_oaicompat`), as
vendored by llama-cpp-python 0.3.36. `POST /completion` with `stream: true` sends one server-sent event per token,
`{index, content, tokens, stop: false, id_slot, tokens_predicted, tokens_evaluated}` plus `completion_probabilities`
when `n_probs` > 0, then a last event with `content: ""`, `stop: true`, `stop_type` (limit, eos) and `timings`.
`shape` picks the probability shape: "current" (`[{id, token, bytes, logprob, top_logprobs}]`), "post_sampling"
(`prob`/`top_probs`, what `post_sampling_probs: true` gives) or "legacy" (before December 2024: `[{content, probs:
[{tok_str, prob}]}]`). `POST /v1/completions` streams the OpenAI shape with `logprobs: {content: [...]}` and ends with
`data: [DONE]`. `/tokenize` counts one token per word.
"""

from __future__ import annotations

import math
import time

from servers.fake_base import SCRIPT, FakeServer, Reply, top


class LlamaCppServer(FakeServer):
    routes = {
        ("POST", "/completion"): "completion",
        ("POST", "/v1/completions"): "oai_completion",
        ("GET", "/v1/models"): "models",
        ("GET", "/props"): "props",
        ("GET", "/health"): "health",
        ("POST", "/tokenize"): "tokenize",
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.shape = "current"

    def health(self, reply: Reply, body: dict) -> None:
        reply.json(200, {"status": "ok"})

    def models(self, reply: Reply, body: dict) -> None:
        reply.json(200, {"object": "list", "data": [{"id": self.model, "object": "model", "created": 0,
                                                      "owned_by": "llamacpp", "meta": {"n_ctx_train": 4096}}]})

    def props(self, reply: Reply, body: dict) -> None:
        reply.json(200, {"default_generation_settings": {"n_ctx": self.context_length, "params": {"top_k": 40}},
                         "total_slots": 1, "model_path": f"/models/{self.model}.gguf", "build_info": "b6000-fake"})

    def tokenize(self, reply: Reply, body: dict) -> None:
        reply.json(200, {"tokens": list(range(len(body["content"].split())))})

    def completion(self, reply: Reply, body: dict) -> None:
        n_probs = int(body.get("n_probs", 0))
        count = min(int(body.get("n_predict", -1)) % 10_000, len(SCRIPT))
        reply.start_stream()
        prompt_tokens = len(body["prompt"].split())
        for i in range(count):
            event = {"index": 0, "content": SCRIPT[i], "tokens": [i], "stop": False, "id_slot": 0,
                     "tokens_predicted": i + 1, "tokens_evaluated": prompt_tokens}
            if n_probs and self.logprobs:
                event["completion_probabilities"] = [self._probs(i, n_probs)]
            reply.event(event)
            self.sent_tokens += 1
            time.sleep(self.pace_s)
        stop_type = "limit" if count == body.get("n_predict") else "eos"
        reply.event({"index": 0, "content": "", "tokens": [], "stop": True, "stop_type": stop_type,
                     "stopping_word": "", "tokens_evaluated": prompt_tokens, "tokens_predicted": count,
                     "timings": {"predicted_n": count}, "truncated": False})
        reply.end()

    def _probs(self, i: int, n: int) -> dict:
        ranked = top(i, n)
        if self.shape == "legacy":
            return {"content": SCRIPT[i], "probs": [{"tok_str": t, "prob": math.exp(lp)} for t, lp in ranked]}
        if self.shape == "post_sampling":
            return {"id": i, "token": SCRIPT[i], "bytes": list(SCRIPT[i].encode()), "prob": math.exp(ranked[0][1]),
                    "top_probs": [{"id": r, "token": t, "bytes": list(t.encode()), "prob": math.exp(lp)}
                                  for r, (t, lp) in enumerate(ranked)]}
        return {"id": i, "token": SCRIPT[i], "bytes": list(SCRIPT[i].encode()), "logprob": ranked[0][1],
                "top_logprobs": [{"id": r, "token": t, "bytes": list(t.encode()), "logprob": lp}
                                 for r, (t, lp) in enumerate(ranked)]}

    def oai_completion(self, reply: Reply, body: dict) -> None:
        n = int(body.get("logprobs") or 0)
        count = min(int(body.get("max_tokens", 16)), len(SCRIPT))
        reply.start_stream()
        for i in range(count):
            logprobs = None
            if n:
                current = self._probs(i, n)
                logprobs = {"content": [{k: current[k] for k in ("id", "token", "bytes", "logprob", "top_logprobs")}]}
            reply.event({"choices": [{"text": SCRIPT[i], "index": 0, "logprobs": logprobs, "finish_reason": None}],
                         "object": "text_completion", "model": self.model})
            self.sent_tokens += 1
        finish = "length" if count == body.get("max_tokens") else "stop"
        reply.event({"choices": [{"text": "", "index": 0, "logprobs": None, "finish_reason": finish}],
                     "object": "text_completion", "model": self.model})
        reply.event("[DONE]")
        reply.end()
