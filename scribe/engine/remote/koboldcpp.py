"""KoboldCpp, through the KoboldAI API it serves: `POST /api/extra/generate/stream` (the streaming form of
`POST /api/v1/generate`, same body).

Wire format: KoboldCpp's API documentation (served by KoboldCpp at `/api`, source koboldcpp's `kcpp_docs.embd`):
the body takes `prompt`, `max_length`, `max_context_length`, `temperature`, `top_k`, `top_p`, `min_p`, `typical`,
`rep_pen`, `presence_penalty`, `sampler_seed`, `mirostat`, `mirostat_tau`, `mirostat_eta`, `dry_multiplier`,
`dry_base`, `dry_allowed_length`, `dry_sequence_breakers`, `xtc_threshold`, `xtc_probability`, `dynatemp_range`,
`dynatemp_exponent` and `banned_tokens`
(words or phrases it never writes); the stream is server-sent events `event: message` / `data: {"token": "...",
"finish_reason": null}`, the last with `finish_reason` "length" or "stop". `GET /api/v1/model` names the model,
`GET /api/extra/true_max_context_length` gives the context, `POST /api/extra/tokencount` counts tokens. The stream
carries no probabilities, so they are unknown (NaN).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from scribe.engine.remote import shapes
from scribe.engine.remote.dialect import Dialect, Event, Finish, Probe, error_text
from scribe.engine.streaming import SampledPiece
from scribe.sampling.params import SamplingParams

if TYPE_CHECKING:
    import httpx

    from scribe.store.remotes import RemoteEndpoint

_FINISH: dict[str, Finish] = {"length": "max_tokens", "stop": "eos"}
_MODEL_PREFIX = "koboldcpp/"


class KoboldCppDialect(Dialect):
    """KoboldCpp's streaming generate route."""

    kind = "koboldcpp"
    parameters = {
        "temperature": "temperature", "top_k": "top_k", "top_p": "top_p", "min_p": "min_p", "typical_p": "typical",
        "repetition_penalty": "rep_pen", "presence_penalty": "presence_penalty", "mirostat_tau": "mirostat_tau",
        "mirostat_eta": "mirostat_eta", "dry_multiplier": "dry_multiplier", "dry_base": "dry_base",
        "dry_allowed_length": "dry_allowed_length", "dry_sequence_breakers": "dry_sequence_breakers",
        "xtc_threshold": "xtc_threshold", "xtc_probability": "xtc_probability", "seed": "sampler_seed",
        "dynatemp_range": "dynatemp_range", "dynatemp_exponent": "dynatemp_exponent",
    }

    def url(self, endpoint: RemoteEndpoint) -> str:
        return endpoint.server_root + "/api/extra/generate/stream"

    def body(self, endpoint: RemoteEndpoint, prompt: str, params: SamplingParams, alternatives: int) -> dict[str, Any]:
        body: dict[str, Any] = {"prompt": prompt, "max_length": params.max_new_tokens, "sampler_seed": -1}
        body.update(self.sampling_fields(params))
        body["mirostat"] = 2 if params.mirostat_tau > 0 else 0
        if endpoint.context_length:
            body["max_context_length"] = endpoint.context_length
        if endpoint.banned_phrases:
            body["banned_tokens"] = list(endpoint.banned_phrases)
        return body

    def event(self, data: Any, alternatives: int) -> Event:
        chunk = shapes.obj(data, "the event")
        if "error" in chunk:
            return Event(error=error_text(chunk["error"]), last=True)
        token = shapes.opt_text(chunk.get("token"), "token") or ""
        event = Event(pieces=[SampledPiece(token, math.nan)] if token else [])
        reason = shapes.opt_text(chunk.get("finish_reason"), "finish_reason")
        if reason is not None:
            event.last = True
            event.finish = _FINISH.get(reason, "eos")
        return event

    def probe(self, client: httpx.Client, endpoint: RemoteEndpoint) -> Probe:
        response = client.get(endpoint.server_root + "/api/v1/model")
        response.raise_for_status()
        name = shapes.text(shapes.obj(response.json(), "the model").get("result"), "result").removeprefix(_MODEL_PREFIX)
        context = endpoint.context_length
        if context is None:
            answer = client.get(endpoint.server_root + "/api/extra/true_max_context_length")
            if answer.status_code == 200:
                context = shapes.count(shapes.obj(answer.json(), "the context length").get("value"), "value") or None
        return Probe((name,), context, endpoint.model, strict=False)

    def count_tokens(self, client: httpx.Client, endpoint: RemoteEndpoint, text: str) -> int | None:
        response = client.post(endpoint.server_root + "/api/extra/tokencount", json={"prompt": text})
        if response.status_code != 200:
            return None
        return shapes.count(shapes.obj(response.json(), "the token count").get("value"), "value")
