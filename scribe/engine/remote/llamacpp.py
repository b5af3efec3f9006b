"""llama.cpp's own server (`llama-server`), through its native `POST /completion`.

Wire format: llama.cpp's tools/server/README.md ("POST /completion", "POST /tokenize", "GET /props", "GET
/v1/models") and tools/server/server-task.cpp: with `stream: true` each server-sent event is `{content, tokens, stop,
tokens_evaluated, completion_probabilities?}`, the last one has `stop: true` and `stop_type` (eos, limit, word). With
`n_probs` each event's `completion_probabilities` holds `[{id, token, bytes, logprob, top_logprobs: [{id, token,
bytes, logprob}]}]` (`prob`/`top_probs` with `post_sampling_probs`); servers before December 2024 sent the legacy
`[{content, probs: [{tok_str, prob}]}]`. Every sampler scribe has is applied natively (min-p, typical, DRY, XTC,
mirostat), so llama.cpp's own defaults (top_k 40, repeat_penalty 1.1) never apply behind the writer's back.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from scribe.engine.base import Alternative
from scribe.engine.remote import shapes
from scribe.engine.remote.dialect import Dialect, Event, Finish, Probe, error_text, logprob_content, split_pieces
from scribe.engine.remote.openai import LLAMA_CPP
from scribe.engine.remote.tokenize_many import tokenize_many
from scribe.sampling.params import SamplingParams

if TYPE_CHECKING:
    import httpx

    from scribe.store.remotes import RemoteEndpoint

_STOP_TYPES: dict[str, Finish] = {"eos": "eos", "limit": "max_tokens", "word": "stop_string"}


class LlamaCppDialect(Dialect):
    """llama-server's native completion route."""

    kind = "llama.cpp"
    parameters = LLAMA_CPP
    max_alternatives = 20
    probabilities = "from llama.cpp's n_probs (up to 20 alternatives, before sampling)"

    def url(self, endpoint: RemoteEndpoint) -> str:
        return endpoint.server_root + "/completion"

    def body(self, endpoint: RemoteEndpoint, prompt: str, params: SamplingParams, alternatives: int) -> dict[str, Any]:
        body: dict[str, Any] = {"prompt": prompt, "n_predict": params.max_new_tokens, "stream": True,
                                "cache_prompt": True, "n_probs": max(1, min(alternatives, self.max_alternatives))}
        body.update(self.sampling_fields(params))
        body["mirostat"] = 2 if params.mirostat_tau > 0 else 0
        return body

    def event(self, data: Any, alternatives: int) -> Event:
        chunk = shapes.obj(data, "the event")
        if "error" in chunk:
            return Event(error=error_text(chunk["error"]), last=True)
        content = shapes.opt_text(chunk.get("content"), "content") or ""
        probs = shapes.opt_array(chunk.get("completion_probabilities"), "completion_probabilities")
        event = Event(pieces=split_pieces(content, _tokens(probs, alternatives)))
        event.prompt_tokens = shapes.count(chunk.get("tokens_evaluated"), "tokens_evaluated")
        if shapes.flag(chunk.get("stop"), "stop"):
            event.last = True
            stop_type = shapes.opt_text(chunk.get("stop_type"), "stop_type")
            event.finish = _STOP_TYPES.get(stop_type or "", "eos")
        return event

    def probe(self, client: httpx.Client, endpoint: RemoteEndpoint) -> Probe:
        models = client.get(endpoint.server_root + "/v1/models")
        models.raise_for_status()
        data = shapes.obj(models.json(), "the model list")
        entries = [shapes.obj(m, f"data[{i}]") for i, m in enumerate(shapes.array(data.get("data"), "data"))]
        ids = tuple(shapes.text(m.get("id"), f"data[{i}].id") for i, m in enumerate(entries))
        context = None
        props = client.get(endpoint.server_root + "/props")
        if props.status_code == 200:
            settings = shapes.obj(shapes.obj(props.json(), "/props").get("default_generation_settings") or {},
                                  "default_generation_settings")
            context = shapes.count(settings.get("n_ctx"), "default_generation_settings.n_ctx") or None
        # one model loaded: llama-server answers whatever name a request gives; several (router mode): the name picks one
        return Probe(ids, context, strict=len(ids) > 1)

    def count_tokens(self, client: httpx.Client, endpoint: RemoteEndpoint, text: str) -> int | None:
        response = client.post(endpoint.server_root + "/tokenize", json={"content": text})
        if response.status_code != 200:
            return None
        return len(shapes.array(shapes.obj(response.json(), "the token list").get("tokens"), "tokens"))

    def count_tokens_many(self, client: httpx.Client, endpoint: RemoteEndpoint,
                          texts: list[str]) -> list[int | None] | None:
        return tokenize_many(client, endpoint.server_root + "/tokenize", texts)


def _tokens(probs: list[Any], alternatives: int) -> list[tuple[str, float, tuple[Alternative, ...]]]:
    """The tokens of `completion_probabilities`, in whichever of llama.cpp's three shapes they come."""
    where = "completion_probabilities"
    if not probs:
        return []
    first = shapes.obj(probs[0], f"{where}[0]")
    if "probs" in first:  # legacy: [{content, probs: [{tok_str, prob}]}]
        result = []
        for i, item in enumerate(probs):
            entry = shapes.obj(item, f"{where}[{i}]")
            token = shapes.text(entry.get("content"), f"{where}[{i}].content")
            alts = shapes.alternatives(shapes.array(entry.get("probs"), f"{where}[{i}].probs"), alternatives,
                                       f"{where}[{i}].probs", token_key="tok_str", prob_key="prob")
            prob = next((a.raw_prob for a in alts if a.text == token), math.nan)
            result.append((token, prob, alts))
        return result
    if "prob" in first:  # post_sampling_probs: [{token, prob, top_probs: [{token, prob}]}]
        result = []
        for i, item in enumerate(probs):
            entry = shapes.obj(item, f"{where}[{i}]")
            token = shapes.text(entry.get("token"), f"{where}[{i}].token")
            prob = shapes.probability(entry.get("prob"), f"{where}[{i}].prob")
            alts = shapes.alternatives(shapes.opt_array(entry.get("top_probs"), f"{where}[{i}].top_probs"),
                                       alternatives, f"{where}[{i}].top_probs", prob_key="prob")
            result.append((token, prob, alts))
        return result
    return logprob_content(probs, alternatives, where)
