"""OpenAI-compatible servers: `/v1/completions` (vLLM, llama-cpp-python, llama.cpp's compatible route, any
OpenAI-style server) and `/v1/chat/completions` for chat models.

Wire format: OpenAI's API reference (Completions and Chat Completions, streaming with `stream: true`: server-sent
events ending in `data: [DONE]`; `stream_options.include_usage` adds a last event with `usage`). Completions report
log-probabilities in the legacy shape `logprobs: {tokens, token_logprobs, top_logprobs: [{token: logprob}]}`; llama.cpp's
server and chat completions use the current shape `logprobs: {content: [{token, logprob, top_logprobs: [...]}]}`;
both are read. vLLM's parameters: its docs' "Extra parameters" of the completions API (top_k, min_p,
repetition_penalty; top_k -1 is off); vLLM's `/tokenize` counts tokens.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from scribe.engine.base import Alternative
from scribe.engine.remote import shapes
from scribe.engine.remote.dialect import Dialect, Event, Finish, Probe, error_text, logprob_content, split_pieces
from scribe.engine.remote.tokenize_many import tokenize_many
from scribe.sampling.params import SamplingParams

if TYPE_CHECKING:
    import httpx

    from scribe.store.remotes import RemoteEndpoint

STANDARD = {
    "temperature": "temperature",
    "top_p": "top_p",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
    "seed": "seed",
}
_MIROSTAT = {"mirostat_tau": "mirostat_tau", "mirostat_eta": "mirostat_eta"}
LLAMA_CPP = {
    **STANDARD, "top_k": "top_k", "min_p": "min_p", "typical_p": "typical_p", "repetition_penalty": "repeat_penalty",
    "dry_multiplier": "dry_multiplier", "dry_base": "dry_base", "dry_allowed_length": "dry_allowed_length",
    "dry_sequence_breakers": "dry_sequence_breakers", "xtc_threshold": "xtc_threshold",
    "xtc_probability": "xtc_probability", "dynatemp_range": "dynatemp_range", "dynatemp_exponent": "dynatemp_exponent",
    "top_n_sigma": "top_n_sigma", **_MIROSTAT,
}
"""llama.cpp's server parameters (tools/server/README.md), shared with scribe/engine/remote/llamacpp.py."""
PARAMETERS: dict[str, dict[str, str]] = {
    "openai": STANDARD,
    "vllm": {**STANDARD, "top_k": "top_k", "min_p": "min_p", "repetition_penalty": "repetition_penalty"},
    "llama.cpp": LLAMA_CPP,
    "llama-cpp-python": {
        **STANDARD, "top_k": "top_k", "min_p": "min_p", "repetition_penalty": "repeat_penalty", **_MIROSTAT,
    },
}
"""Server kind -> scribe setting -> request field, for the OpenAI-style routes."""
MIROSTAT_MODE = {"llama.cpp": "mirostat", "llama-cpp-python": "mirostat_mode"}
"""The field that switches mirostat on (2: version 2, what scribe's mirostat_tau > 0 means) or off (0)."""
_MAX_LOGPROBS = {"openai": 5, "vllm": 20, "llama.cpp": 20, "llama-cpp-python": 20}
_MAX_TOP_LOGPROBS = {"openai": 20, "vllm": 20, "llama.cpp": 20, "llama-cpp-python": 20}
_TOKENIZE = {"vllm": "/tokenize", "llama.cpp": "/tokenize", "llama-cpp-python": "/extras/tokenize"}
_FINISH: dict[str, Finish] = {"length": "max_tokens", "stop": "eos", "eos": "eos", "content_filter": "eos"}


class _OpenAIStyle(Dialect):
    """What the completions and chat routes share: parameters, model list, token counts, finish reasons."""

    done_marker = "[DONE]"

    def __init__(self, server: str) -> None:
        self.kind = server
        self.parameters = PARAMETERS[server]

    def common_body(self, endpoint: RemoteEndpoint, params: SamplingParams) -> dict[str, Any]:
        body: dict[str, Any] = {"model": endpoint.model, "max_tokens": params.max_new_tokens, "stream": True}
        body.update(self.sampling_fields(params))
        if self.kind == "vllm" and params.top_k == 0:
            body["top_k"] = -1  # vLLM's "off"
        if self.kind in MIROSTAT_MODE:
            body[MIROSTAT_MODE[self.kind]] = 2 if params.mirostat_tau > 0 else 0
        if self.kind in ("openai", "vllm"):
            body["stream_options"] = {"include_usage": True}
        return body

    def read(self, data: Any) -> tuple[dict[str, Any], list[dict[str, Any]], Event]:
        """The chunk, its choices and an Event with what the chunk says besides text (error, usage)."""
        chunk = shapes.obj(data, "the event")
        if "error" in chunk:
            return chunk, [], Event(error=error_text(chunk["error"]), last=True)
        event = Event()
        usage = chunk.get("usage")
        if usage is not None:
            event.prompt_tokens = shapes.count(shapes.obj(usage, "usage").get("prompt_tokens"), "usage.prompt_tokens")
        choices = [shapes.obj(c, f"choices[{i}]") for i, c in enumerate(shapes.opt_array(chunk.get("choices"), "choices"))]
        for i, choice in enumerate(choices):
            reason = shapes.opt_text(choice.get("finish_reason"), f"choices[{i}].finish_reason")
            if reason is not None:
                event.finish = _FINISH.get(reason, "eos")
        return chunk, choices, event

    def probe(self, client: httpx.Client, endpoint: RemoteEndpoint) -> Probe:
        response = client.get(endpoint.api_root + "/models")
        response.raise_for_status()
        data = shapes.obj(response.json(), "the model list")
        models = [shapes.obj(m, f"data[{i}]") for i, m in enumerate(shapes.array(data.get("data"), "data"))]
        ids = tuple(shapes.text(m.get("id"), f"data[{i}].id") for i, m in enumerate(models))
        context = None
        for m in models:
            if m.get("id") == endpoint.model:
                meta = m.get("meta")
                meta = meta if isinstance(meta, dict) else {}
                for name in ("max_model_len", "context_length", "n_ctx"):
                    value = m.get(name, meta.get(name))
                    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                        context = value
                        break
        return Probe(ids, context)

    def count_tokens(self, client: httpx.Client, endpoint: RemoteEndpoint, text: str) -> int | None:
        path = _TOKENIZE.get(self.kind)
        if path is None:
            return None
        if self.kind == "llama.cpp":
            body: dict[str, Any] = {"content": text}
        else:
            body = {"model": endpoint.model, ("prompt" if self.kind == "vllm" else "input"): text}
        response = client.post(endpoint.server_root + path, json=body)
        if response.status_code != 200:
            return None
        data = shapes.obj(response.json(), "the token count")
        if "count" in data:
            return shapes.count(data["count"], "count")
        return len(shapes.array(data.get("tokens"), "tokens"))

    def count_tokens_many(self, client: httpx.Client, endpoint: RemoteEndpoint,
                          texts: list[str]) -> list[int | None] | None:
        """llama.cpp's server counts many texts in one request (`scribe.engine.remote.tokenize_many`)."""
        if self.kind != "llama.cpp":
            return None
        return tokenize_many(client, endpoint.server_root + _TOKENIZE[self.kind], texts)


class CompletionsDialect(_OpenAIStyle):
    """`/v1/completions`: the prompt is continued as it is."""

    def __init__(self, server: str) -> None:
        super().__init__(server)
        self.max_alternatives = _MAX_LOGPROBS[server]
        self.probabilities = f"from the server's logprobs (up to {self.max_alternatives} alternatives)"

    def url(self, endpoint: RemoteEndpoint) -> str:
        return endpoint.api_root + "/completions"

    def body(self, endpoint: RemoteEndpoint, prompt: str, params: SamplingParams, alternatives: int) -> dict[str, Any]:
        body = {**self.common_body(endpoint, params), "prompt": prompt}
        body["logprobs"] = max(1, min(alternatives, self.max_alternatives))
        return body

    def event(self, data: Any, alternatives: int) -> Event:
        _, choices, event = self.read(data)
        for i, choice in enumerate(choices):
            where = f"choices[{i}]"
            event.pieces += split_pieces(shapes.text(choice.get("text"), f"{where}.text"),
                                         _logprob_tokens(choice.get("logprobs"), alternatives, f"{where}.logprobs"))
        return event


class ChatDialect(_OpenAIStyle):
    """`/v1/chat/completions`: the text goes as one user message and the model's reply streams back."""

    def __init__(self, server: str) -> None:
        super().__init__(server)
        self.max_alternatives = _MAX_TOP_LOGPROBS[server]
        self.probabilities = f"from the server's logprobs (up to {self.max_alternatives} alternatives)"

    def url(self, endpoint: RemoteEndpoint) -> str:
        return endpoint.api_root + "/chat/completions"

    def body(self, endpoint: RemoteEndpoint, prompt: str, params: SamplingParams, alternatives: int) -> dict[str, Any]:
        body = {**self.common_body(endpoint, params), "messages": [{"role": "user", "content": prompt}]}
        body["logprobs"] = True
        body["top_logprobs"] = max(1, min(alternatives, self.max_alternatives))
        return body

    def event(self, data: Any, alternatives: int) -> Event:
        _, choices, event = self.read(data)
        for i, choice in enumerate(choices):
            where = f"choices[{i}]"
            delta = shapes.obj(choice.get("delta") or {}, f"{where}.delta")
            content = shapes.opt_text(delta.get("content"), f"{where}.delta.content") or ""
            event.pieces += split_pieces(content, _logprob_tokens(choice.get("logprobs"), alternatives, f"{where}.logprobs"))
        return event


def _logprob_tokens(value: Any, alternatives: int, where: str) -> list[tuple[str, float, tuple[Alternative, ...]]]:
    """The tokens of a choice's `logprobs`, in the current shape (`content`) or the legacy one (`tokens`, ...)."""
    if value is None:
        return []
    logprobs = shapes.obj(value, where)
    if "content" in logprobs:
        return logprob_content(shapes.opt_array(logprobs["content"], f"{where}.content"), alternatives, f"{where}.content")
    tokens = shapes.opt_array(logprobs.get("tokens"), f"{where}.tokens")
    token_lps = shapes.opt_array(logprobs.get("token_logprobs"), f"{where}.token_logprobs")
    tops = shapes.opt_array(logprobs.get("top_logprobs"), f"{where}.top_logprobs")
    result = []
    for i, token in enumerate(tokens):
        token = shapes.text(token, f"{where}.tokens[{i}]")
        lp = token_lps[i] if i < len(token_lps) else None
        prob = math.nan if lp is None else math.exp(shapes.logprob(lp, f"{where}.token_logprobs[{i}]"))
        top = tops[i] if i < len(tops) else None
        alts: tuple[Alternative, ...] = ()
        if top is not None:
            entries = shapes.obj(top, f"{where}.top_logprobs[{i}]")
            alts = shapes.alternatives([{"token": t, "logprob": v} for t, v in entries.items()], alternatives,
                                       f"{where}.top_logprobs[{i}]")
        result.append((token, prob, alts))
    return result
