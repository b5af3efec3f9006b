"""Each server dialect against a faithful fake of its server on 127.0.0.1: the tokens stream with the server's
probabilities and alternatives, scribe's settings reach the server under the server's own names, the model list and
token counts come from the server's routes."""

from __future__ import annotations

import math

import pytest
from servers.fake_base import SCRIPT, logprob
from servers.koboldcpp_server import KoboldCppServer
from servers.llamacpp_server import LlamaCppServer
from servers.ollama_server import OllamaServer
from servers.vllm_server import VllmServer

from scribe.engine.base import ModelLoadError, StreamEnd, TokenStep
from scribe.engine.remote_backend import RemoteBackend
from scribe.sampling.params import SamplingParams
from scribe.store.remotes import RemoteEndpoint, save_remote

RICH = SamplingParams(temperature=0.7, top_k=20, top_p=0.9, min_p=0.05, typical_p=0.8, repetition_penalty=1.2,
                      frequency_penalty=0.5, presence_penalty=0.25, seed=7, max_new_tokens=4, dry_multiplier=0.8,
                      xtc_probability=0.5, mirostat_tau=5.0)


def backend(root: str, server: str, model: str = "tiny", **options) -> RemoteBackend:
    return RemoteBackend(RemoteEndpoint(name="test", base_url=root, model=model, server=server, **options))


def run(b: RemoteBackend, params: SamplingParams, **kwargs) -> tuple[list[TokenStep], StreamEnd]:
    items = list(b.stream("Once upon a time", params, **kwargs))
    end = items.pop()
    assert isinstance(end, StreamEnd) and all(isinstance(i, TokenStep) for i in items)
    return items, end


def assert_script_with_probabilities(steps: list[TokenStep], end: StreamEnd, n: int, alternatives: int) -> None:
    assert [s.text for s in steps] == list(SCRIPT[:n]) and end.text == "".join(SCRIPT[:n]) and end.error is None
    for i, step in enumerate(steps):
        assert step.raw_prob == pytest.approx(math.exp(logprob(i, 0))) == step.final_prob
        assert [a.text for a in step.alternatives] == [SCRIPT[i]] + [f" alt{r}" for r in range(1, alternatives)]
        assert [a.raw_prob for a in step.alternatives] == pytest.approx([math.exp(logprob(i, r)) for r in range(alternatives)])


@pytest.mark.parametrize("shape", ["current", "post_sampling", "legacy"])
def test_llama_cpp_native_completion_in_each_probability_shape(shape):
    with LlamaCppServer() as server:
        server.shape = shape
        steps, end = run(backend(server.root, "llama.cpp"), SamplingParams(max_new_tokens=5), alternatives=3)
        assert_script_with_probabilities(steps, end, 5, 3)
        assert (end.reason, end.tokens, end.prompt_tokens) == ("max_tokens", 5, 4)
        assert server.bodies("/completion")[-1]["n_probs"] == 3


def test_llama_cpp_maps_every_sampler_natively_and_counts_with_its_tokenizer():
    with LlamaCppServer() as server:
        b = backend(server.root, "llama.cpp")
        run(b, RICH)
        sent = server.bodies("/completion")[-1]
        assert {k: sent[k] for k in ("n_predict", "temperature", "top_k", "top_p", "min_p", "typical_p", "repeat_penalty",
                                     "frequency_penalty", "presence_penalty", "seed", "dry_multiplier", "dry_base",
                                     "dry_allowed_length", "dry_sequence_breakers", "xtc_threshold", "xtc_probability",
                                     "mirostat", "mirostat_tau", "mirostat_eta")} == {
            "n_predict": 4, "temperature": 0.7, "top_k": 20, "top_p": 0.9, "min_p": 0.05, "typical_p": 0.8,
            "repeat_penalty": 1.2, "frequency_penalty": 0.5, "presence_penalty": 0.25, "seed": 7, "dry_multiplier": 0.8,
            "dry_base": 1.75, "dry_allowed_length": 2, "dry_sequence_breakers": ["\n", ":", '"', "*"],
            "xtc_threshold": 0.1, "xtc_probability": 0.5, "mirostat": 2, "mirostat_tau": 5.0, "mirostat_eta": 0.1}
        assert b.ignored(RICH) == ()
        assert b.count_tokens("four words in here") == 4  # the server's /tokenize, not the estimate (5)
        save_remote(RemoteEndpoint(name="llama", base_url=server.root, model="tiny", server="llama.cpp"))
        assert RemoteBackend.load("", name="remote:llama").info.context_length == 128  # from /props
        save_remote(RemoteEndpoint(name="any", base_url=server.root, model="any-name", server="llama.cpp"))
        assert RemoteBackend.load("", name="remote:any").endpoint.model == "any-name"  # one model: any name serves


def test_llama_cpp_openai_route_with_the_current_logprobs_shape():
    with LlamaCppServer() as server:
        steps, end = run(backend(server.root + "/v1", "openai"), SamplingParams(max_new_tokens=4), alternatives=2)
        assert_script_with_probabilities(steps, end, 4, 2)
        assert end.reason == "max_tokens"


def test_ollama_continues_raw_text_with_logprobs_and_matches_tags():
    with OllamaServer() as server:
        b = backend(server.root, "ollama", model="qwen2.5:7b")
        steps, end = run(b, RICH.replace(max_new_tokens=6), alternatives=3)
        assert_script_with_probabilities(steps, end, 6, 3)
        assert (end.reason, end.prompt_tokens) == ("max_tokens", 4)  # raw: the prompt was not wrapped in a template
        sent = server.bodies("/api/generate")[-1]
        assert sent["raw"] is True and sent["stream"] is True and sent["logprobs"] is True and sent["top_logprobs"] == 3
        assert sent["options"] == {"temperature": 0.7, "top_k": 20, "top_p": 0.9, "min_p": 0.05, "typical_p": 0.8,
                                   "repeat_penalty": 1.2, "presence_penalty": 0.25, "frequency_penalty": 0.5, "seed": 7,
                                   "mirostat": 2, "mirostat_tau": 5.0, "mirostat_eta": 0.1, "num_predict": 6}
        assert b.ignored(RICH) == ("dry_multiplier", "xtc_probability")

        save_remote(RemoteEndpoint(name="llama", base_url=server.root, model="llama3.2", server="ollama"))
        assert RemoteBackend.load("", name="remote:llama").endpoint.model == "llama3.2:latest"  # as /api/tags lists it
        save_remote(RemoteEndpoint(name="qwen", base_url=server.root, model="qwen2.5:7b", server="ollama"))
        assert RemoteBackend.load("", name="remote:qwen").info.context_length == 128  # num_ctx from /api/show
        save_remote(RemoteEndpoint(name="absent", base_url=server.root, model="qwen2.5:14b", server="ollama"))
        with pytest.raises(ModelLoadError, match="serves qwen2.5:7b, llama3.2:latest, not 'qwen2.5:14b'"):
            RemoteBackend.load("", name="remote:absent")


def test_ollama_without_logprobs_marks_probabilities_unknown():
    with OllamaServer(version="0.6.2") as server:
        steps, end = run(backend(server.root, "ollama", model="qwen2.5:7b"), SamplingParams(max_new_tokens=50))
        assert [s.text for s in steps] == list(SCRIPT) and end.reason == "eos"
        assert all(math.isnan(s.raw_prob) and math.isnan(s.final_prob) and s.alternatives == () for s in steps)


def test_vllm_completions_and_chat_with_logprobs():
    with VllmServer() as server:
        b = backend(server.root + "/v1", "vllm")
        steps, end = run(b, SamplingParams(max_new_tokens=5, top_k=0), alternatives=3)
        assert_script_with_probabilities(steps, end, 5, 3)
        assert end.prompt_tokens == 4 and server.bodies("/v1/completions")[-1]["top_k"] == -1
        assert b.count_tokens("four words in here") == 4

        chat = backend(server.root + "/v1", "vllm", chat=True)
        steps, end = run(chat, SamplingParams(max_new_tokens=50), alternatives=4)
        assert_script_with_probabilities(steps, end, len(SCRIPT), 4)
        assert end.reason == "eos"
        sent = server.bodies("/v1/chat/completions")[-1]
        assert sent["messages"] == [{"role": "user", "content": "Once upon a time"}]
        assert (sent["logprobs"], sent["top_logprobs"], "prompt" in sent) == (True, 4, False)
        assert chat.info.extra["server"] == "vllm (chat)"


def test_koboldcpp_streams_with_its_samplers_and_bans():
    with KoboldCppServer() as server:
        b = backend(server.root, "koboldcpp", banned_phrases=("cat", "the mat"))
        steps, end = run(b, RICH.replace(max_new_tokens=4))
        assert [s.text for s in steps] == [" The", " dog", " sat", " on"] and end.reason == "max_tokens"
        assert all(math.isnan(s.raw_prob) for s in steps)  # the stream carries no probabilities
        sent = server.bodies("/api/extra/generate/stream")[-1]
        assert {k: sent[k] for k in ("max_length", "temperature", "top_k", "top_p", "min_p", "typical", "rep_pen",
                                     "presence_penalty", "sampler_seed", "mirostat", "mirostat_tau", "dry_multiplier",
                                     "dry_sequence_breakers", "xtc_probability", "banned_tokens")} == {
            "max_length": 4, "temperature": 0.7, "top_k": 20, "top_p": 0.9, "min_p": 0.05, "typical": 0.8,
            "rep_pen": 1.2, "presence_penalty": 0.25, "sampler_seed": 7, "mirostat": 2, "mirostat_tau": 5.0,
            "dry_multiplier": 0.8, "dry_sequence_breakers": ["\n", ":", '"', "*"], "xtc_probability": 0.5,
            "banned_tokens": ["cat", "the mat"]}
        assert b.ignored(RICH) == ("frequency_penalty",)
        assert b.count_tokens("four words in here") == 4
        _, end = run(b, SamplingParams(max_new_tokens=50))
        assert end.reason == "eos" and end.text == "".join(SCRIPT).replace(" cat", " dog")
        save_remote(RemoteEndpoint(name="kobold", base_url=server.root, model="anything", server="koboldcpp"))
        assert RemoteBackend.load("", name="remote:kobold").info.context_length == 128


@pytest.mark.parametrize("fake, server, model, suffix", [
    (LlamaCppServer, "llama.cpp", "tiny", ""), (OllamaServer, "ollama", "qwen2.5:7b", ""),
    (KoboldCppServer, "koboldcpp", "tiny", ""), (VllmServer, "vllm", "tiny", "/v1"),
])
def test_a_stop_string_closes_the_connection_for_every_dialect(fake, server, model, suffix):
    with fake(model=model) as fake_server:
        fake_server.pace_s = 0.05
        steps, end = run(backend(fake_server.root + suffix, server, model=model),
                         SamplingParams(max_new_tokens=50, stop=(" the m",)))
        assert (end.reason, end.text) == ("stop_string", " The cat sat on")
        assert fake_server.client_left.wait(3.0) and fake_server.sent_tokens < len(SCRIPT)


def test_the_wrong_server_kind_is_named_when_the_model_loads():
    with LlamaCppServer() as server:
        save_remote(RemoteEndpoint(name="wrong", base_url=server.root, model="tiny", server="ollama"))
        with pytest.raises(ModelLoadError, match=r"remote 'wrong': the server answered HTTP 404: no route GET /api/tags"):
            RemoteBackend.load("", name="remote:wrong")
    with OllamaServer() as server:  # no KoboldCpp route there
        save_remote(RemoteEndpoint(name="wrong", base_url=server.root, model="tiny", server="koboldcpp"))
        with pytest.raises(ModelLoadError, match="HTTP 404"):
            RemoteBackend.load("", name="remote:wrong")
