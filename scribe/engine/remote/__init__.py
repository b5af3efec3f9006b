"""Remote model servers: one module per server dialect, and what they share.

`dialect.py` is the contract (`Dialect`: the request, the answer's events, the model list, the token count);
`openai.py` (OpenAI-compatible completions and chat: vLLM, llama-cpp-python, any OpenAI-style server), `llamacpp.py`
(llama.cpp's own `llama-server`), `ollama.py` and `koboldcpp.py` each implement it. `wire.py` reads an answer so that
it cannot hang or grow without bound, `shapes.py` checks every value a server sends, `secrets.py` keeps the API key
out of messages, and `detect.py` tells the kind of a server from its answers. The backend itself is
scribe/engine/remote_backend.py.
"""

from __future__ import annotations

from scribe.engine.remote.dialect import Dialect


def dialect_for(server: str, *, chat: bool = False) -> Dialect:
    """The dialect of a server kind (one of scribe.store.remotes.SERVERS); `chat` picks the chat endpoint."""
    from scribe.engine.remote import koboldcpp, llamacpp, ollama, openai

    if chat:
        return openai.ChatDialect(server)
    if server == "llama.cpp":
        return llamacpp.LlamaCppDialect()
    if server == "ollama":
        return ollama.OllamaDialect()
    if server == "koboldcpp":
        return koboldcpp.KoboldCppDialect()
    return openai.CompletionsDialect(server)
