"""Ollama, through its native `POST /api/generate` with `raw: true`, so the text is continued as it is (Ollama's
OpenAI-compatible completions route wraps the prompt in the model's chat template).

Wire format: Ollama's docs/api.md ("Generate a completion", "List Local Models", "Show Model Information"):
the answer is newline-delimited JSON, one `{model, created_at, response, done: false}` object per token, then one with
`done: true`, `done_reason` (stop, length), `prompt_eval_count` and `eval_count`; an error is `{"error": "..."}`.
Sampling settings go in `options` (temperature, top_k, top_p, min_p, typical_p, repeat_penalty, presence_penalty,
frequency_penalty, seed, mirostat, mirostat_tau, mirostat_eta, num_predict, num_ctx). Servers from 0.12.11 answer
`logprobs: true, top_logprobs: N` with `logprobs: [{token, logprob, bytes, top_logprobs: [...]}]` on each object; older
ones send none, and the probabilities are then unknown (NaN), never a made-up value. Model names carry a tag
(`qwen2.5:7b`); a name without one means `:latest`, as `/api/tags` lists it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from scribe.engine.remote import shapes
from scribe.engine.remote.dialect import Dialect, Event, Finish, Probe, error_text, logprob_content, split_pieces
from scribe.sampling.params import SamplingParams

if TYPE_CHECKING:
    import httpx

    from scribe.store.remotes import RemoteEndpoint

_FINISH: dict[str, Finish] = {"length": "max_tokens", "stop": "eos"}
_NUM_CTX = re.compile(r"^\s*num_ctx\s+(\d+)\s*$", re.MULTILINE)


class OllamaDialect(Dialect):
    """Ollama's native generate route."""

    kind = "ollama"
    framing = "ndjson"
    parameters = {
        "temperature": "temperature", "top_k": "top_k", "top_p": "top_p", "min_p": "min_p", "typical_p": "typical_p",
        "repetition_penalty": "repeat_penalty", "presence_penalty": "presence_penalty",
        "frequency_penalty": "frequency_penalty", "seed": "seed", "mirostat_tau": "mirostat_tau",
        "mirostat_eta": "mirostat_eta",
    }
    max_alternatives = 20
    probabilities = "from Ollama's logprobs (0.12.11 and later; unknown with older servers)"

    def url(self, endpoint: RemoteEndpoint) -> str:
        return endpoint.server_root + "/api/generate"

    def body(self, endpoint: RemoteEndpoint, prompt: str, params: SamplingParams, alternatives: int) -> dict[str, Any]:
        options = {**self.sampling_fields(params), "num_predict": params.max_new_tokens,
                   "mirostat": 2 if params.mirostat_tau > 0 else 0}
        if endpoint.context_length:
            options["num_ctx"] = endpoint.context_length
        return {"model": endpoint.model, "prompt": prompt, "raw": True, "stream": True, "options": options,
                "logprobs": True, "top_logprobs": max(1, min(alternatives, self.max_alternatives))}

    def event(self, data: Any, alternatives: int) -> Event:
        chunk = shapes.obj(data, "the line")
        if "error" in chunk:
            return Event(error=error_text(chunk["error"]), last=True)
        content = shapes.opt_text(chunk.get("response"), "response") or ""
        tokens = logprob_content(shapes.opt_array(chunk.get("logprobs"), "logprobs"), alternatives, "logprobs")
        event = Event(pieces=split_pieces(content, tokens))
        if shapes.flag(chunk.get("done"), "done"):
            event.last = True
            event.finish = _FINISH.get(shapes.opt_text(chunk.get("done_reason"), "done_reason") or "", "eos")
            event.prompt_tokens = shapes.count(chunk.get("prompt_eval_count"), "prompt_eval_count")
        return event

    def probe(self, client: httpx.Client, endpoint: RemoteEndpoint) -> Probe:
        response = client.get(endpoint.server_root + "/api/tags")
        response.raise_for_status()
        listed = shapes.array(shapes.obj(response.json(), "the model list").get("models"), "models")
        names = tuple(shapes.text(shapes.obj(m, f"models[{i}]").get("name"), f"models[{i}].name")
                      for i, m in enumerate(listed))
        model = match_tag(endpoint.model, names)
        context = endpoint.context_length
        if model is not None and context is None:
            show = client.post(endpoint.server_root + "/api/show", json={"model": model})
            if show.status_code == 200:
                parameters = shapes.opt_text(shapes.obj(show.json(), "the model details").get("parameters"), "parameters")
                found = _NUM_CTX.search(parameters or "")
                context = int(found.group(1)) if found else None
        return Probe(names, context, model)


def match_tag(model: str, names: tuple[str, ...]) -> str | None:
    """The name Ollama lists for `model` (`qwen2.5` is `qwen2.5:latest`), or None when it does not serve it."""
    for candidate in (model, model if ":" in model else model + ":latest"):
        if candidate in names:
            return candidate
    return None
