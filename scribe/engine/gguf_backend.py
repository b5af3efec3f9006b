"""The GGUF backend: a `.gguf` file run in-process by llama.cpp (llama-cpp-python, `pip install 'scribe[gguf]'`).

llama.cpp computes the next-token logits; scribe's own Sampler chooses each token from them (`sampled_tokens`), so every
sampling setting, the X-ray, alternatives, seeds and replay work as with a transformers model. Only the new positions
are evaluated: llama.cpp keeps the key/value cache of the last sequence, and a stream whose prompt starts with it
(continue, regenerate, a branch) evaluates only the changed suffix (`GGUFSteps.prefill`).

The tokenizer, the context length the model was trained with, the end token and the chat template come from the
file's metadata. The context is that length, at most `MAX_CONTEXT` (the key/value cache grows with it).

Threads: llama.cpp decodes on `SCRIBE_THREADS` threads, else one per core (`os.cpu_count()`), prompt and decode
alike. Its CPU threads are OpenMP threads, and OpenMP's default is to spin while waiting between the many short
parallel regions of one token; when another program keeps a core busy, a spinning thread holds the core its partner
needs (measured on a 2-core machine with one busy process: 4 tokens/s instead of 36). scribe asks OpenMP for a short
spin before a waiting thread sleeps (`GOMP_SPINCOUNT`, set before llama.cpp loads unless the user chose a policy; see
`scribe.engine.threads`).

Layers are offloaded to the GPU (`n_gpu_layers=-1`) when llama.cpp was built with CUDA or Metal and the device is
"auto" or a GPU; "cpu" keeps them on the CPU. The dtype is the file's own quantisation: the dtype setting does not
apply to GGUF models.

Importing this module does not import llama_cpp; loading a model does, and says how to install it when it is missing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scribe.context_length import GGUF_DEFAULT_CONTEXT, gguf_context_length
from scribe.engine.base import SEARCH_SETTINGS, Capability, Message, ModelInfo, ModelLoadError
from scribe.engine.streaming import StreamRun, TokenBackend, fit_prompt, one_line, sampled_tokens
from scribe.engine.threads import StepThreads, prepare_cpu_threads, requested_threads
from scribe.sampling.params import SamplingParams
from scribe.sampling.sampler import SampleResult

if TYPE_CHECKING:
    import torch

MAGIC = b"GGUF"
MAX_CONTEXT = 8192
"""The largest context scribe opens (the model's own, when smaller)."""
INSTALL_HINT = "install llama-cpp-python with `pip install 'scribe[gguf]'` (it compiles llama.cpp once, a few minutes)"


def gguf_files(folder: Path) -> list[Path]:
    """The GGUF model files in a folder (of a split model, its first part only), sorted."""
    files = sorted(p for p in folder.glob("*.gguf") if p.is_file())
    return [p for p in files if "-of-" not in p.stem or p.stem.split("-of-")[0].endswith("00001")]

SAMPLER_THREADS = StepThreads(1)
"""torch threads for the sampler after each step: one, so torch's thread pool never wakes to compete with llama.cpp's
threads for the cores (on a 32000-token vocabulary: 1.1 ms a token on one thread, 1.4 ms on two)."""

def is_gguf_file(path: Path) -> bool:
    """True for a file that starts with the GGUF magic bytes."""
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == MAGIC
    except OSError:
        return False


class GGUFSteps:
    """llama.cpp's forward pass as `LogitSteps`, keeping the cache of the last sequence for the next prompt."""

    def __init__(self, llama: Any) -> None:
        self._llama = llama
        self._vocab = int(llama.n_vocab())

    def reserve(self, capacity: int) -> None:
        """Nothing to do: llama.cpp's cache holds the whole context."""

    def prefill(self, ids: "torch.Tensor") -> "torch.Tensor":
        """Evaluate only what differs from the cached sequence; the logits after the last of `ids`."""
        tokens = ids.tolist()
        llama = self._llama
        cached = llama.input_ids[: llama.n_tokens].tolist()
        common = 0
        for a, b in zip(cached, tokens):
            if a != b:
                break
            common += 1
        llama.n_tokens = min(common, len(tokens) - 1)  # the last token is always run: its logits are needed
        llama.eval(tokens[llama.n_tokens :])
        return self._logits()

    def step(self, token: "torch.Tensor") -> "torch.Tensor":
        """Evaluate one more token; its next-token logits."""
        self._llama.eval([int(token.item())])
        return self._logits()

    def rewind(self, length: int) -> None:
        """Forget every position from `length` on (llama.cpp drops them from its cache at the next eval)."""
        self._llama.n_tokens = min(length, self._llama.n_tokens)

    @property
    def cached_tokens(self) -> int:
        """Positions in llama.cpp's cache."""
        return int(self._llama.n_tokens)

    def _logits(self) -> "torch.Tensor":
        """The logits of the last evaluated position, copied out of llama.cpp's buffer."""
        import llama_cpp
        import numpy as np
        import torch

        pointer = llama_cpp.llama_get_logits_ith(self._llama.ctx, -1)
        return torch.from_numpy(np.ctypeslib.as_array(pointer, shape=(self._vocab,)).copy())


class GGUFBackend(TokenBackend):
    """A GGUF model file in llama.cpp. It samples with scribe's sampler; beam and contrastive search are not
    available (`unsupported`: the settings panel shows them so, and `ignored` names them when set)."""

    capabilities = frozenset({Capability.LOGITS, Capability.CHAT})
    unsupported = SEARCH_SETTINGS

    def __init__(self, llama: Any, info: ModelInfo) -> None:
        self._llama = llama
        self.info = info
        self.steps = GGUFSteps(llama)
        """The forward pass (its `cached_tokens` shows how much of the last sequence is kept)."""
        eos = {llama.token_eos()}
        eot = llama.metadata.get("tokenizer.ggml.eot_token_id")
        if eot is not None:
            eos.add(int(eot))
        self._eos = frozenset(i for i in eos if i is not None and i >= 0)
        self._bos = llama.token_bos()
        self._add_bos = llama.metadata.get("tokenizer.ggml.add_bos_token", "true") != "false" and self._bos >= 0
        self._template = llama.metadata.get("tokenizer.chat_template") or None

    @classmethod
    def detect(cls, path: Path) -> bool:
        """A .gguf file, or a folder without config.json that holds .gguf files (a pulled quantisation)."""
        if path.is_file():
            return path.suffix.lower() == ".gguf" and is_gguf_file(path)
        return path.is_dir() and not (path / "config.json").exists() and bool(gguf_files(path))

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        name: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        trust_remote_code: bool = False,
    ) -> "GGUFBackend":
        """Open the GGUF file at `path` (or the one GGUF file in the folder `path`)."""
        path = Path(path)
        file = _model_file(path)
        prepare_cpu_threads()
        try:
            import llama_cpp
        except ImportError:
            raise ModelLoadError(f"{file}: GGUF models need llama-cpp-python: {INSTALL_HINT}") from None
        try:
            threads = requested_threads() or os.cpu_count() or 1
        except ValueError as exc:
            raise ModelLoadError(str(exc)) from None
        gpu = device != "cpu" and bool(llama_cpp.llama_supports_gpu_offload())
        if device not in ("auto", "cpu") and not gpu:
            raise ModelLoadError(f"device {device!r} asked for, but this llama.cpp build has no GPU support")
        trained = trained_context(file)
        try:
            llama = llama_cpp.Llama(
                model_path=str(file), n_ctx=min(trained, MAX_CONTEXT), n_batch=512, n_threads=threads,
                n_threads_batch=threads, n_gpu_layers=-1 if gpu else 0, logits_all=False, verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"{file}: llama.cpp cannot load it: {one_line(exc)}") from exc
        finally:  # llama.cpp's log goes to the terminal the studio draws on: keep it quiet once loaded
            logging.getLogger("llama-cpp-python").setLevel(logging.CRITICAL)
        meta = llama.metadata
        info = ModelInfo(
            name=name or file.stem,
            backend="gguf",
            location=str(file),
            device="gpu" if gpu else "cpu",
            dtype=_FILE_TYPES.get(meta.get("general.file_type", ""), "gguf"),
            context_length=int(llama.n_ctx()),
            vocab_size=int(llama.n_vocab()),
            parameters=int(llama._model.n_params()) if hasattr(llama, "_model") else 0,
            extra={
                "architecture": meta.get("general.architecture", "?"),
                "cpu_threads": str(threads),
                "trained_context": str(trained),
                "chat_template": "yes" if meta.get("tokenizer.chat_template") else "no",
            },
        )
        return cls(llama, info)

    def supports(self, capability: Capability | str) -> bool:
        """Chat only when the file carries a chat template."""
        if Capability(capability) is Capability.CHAT:
            return self._template is not None
        return super().supports(capability)

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for `text` (the start token included when the model adds one)."""
        return len(self._encode(text))

    def close(self) -> None:
        """Free llama.cpp's model and context."""
        llama, self._llama = self._llama, None
        if llama is not None:
            llama.close()

    def _prompt_ids(self, prompt: str, max_new_tokens: int) -> list[int]:
        """The prompt's ids cut from the left to fit (the start token kept); the start token alone when empty."""
        return fit_prompt(self._encode(prompt), context_length=self.info.context_length, max_new_tokens=max_new_tokens,
                          bos=self._bos, start=self._bos if self._bos >= 0 else min(self._eos, default=None))

    def _chat_ids(self, messages: Sequence[Message]) -> list[int]:
        """`messages` through the file's chat template."""
        assert self._template is not None
        text = render_chat_template(self._template, messages, bos=self._token_piece(self._bos),
                                    eos=self._token_piece(min(self._eos)) if self._eos else "")
        return self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def _tokens(self, ids: list[int], params: SamplingParams, run: StreamRun,
                alternatives: int) -> Iterator[SampleResult]:
        """scribe's sampler on llama.cpp's logits."""
        return sampled_tokens(self.steps, ids, params, run, context_length=self.info.context_length,
                              alternatives=alternatives, token_text=self.token_text, decode=self._decode,
                              eos=self._eos, threads=SAMPLER_THREADS.scope)

    def _encode(self, text: str) -> list[int]:
        if not text:
            return [self._bos] if self._add_bos else []
        return self._llama.tokenize(text.encode("utf-8"), add_bos=self._add_bos, special=False)

    def _decode(self, ids: Sequence[int]) -> str:
        return self._llama.detokenize(list(ids), special=True).decode("utf-8", errors="replace")

    def _token_piece(self, token_id: int) -> str:
        return self._decode([token_id]) if token_id >= 0 else ""


def trained_context(file: Path) -> int:
    """The context length the model was trained with, from the file's metadata (GGUF_DEFAULT_CONTEXT when it does not
    say)."""
    try:
        from gguf import GGUFReader
    except ImportError:
        raise ModelLoadError(f"{file}: reading GGUF metadata needs the gguf package: {INSTALL_HINT}") from None
    try:
        return gguf_context_length(GGUFReader(file).fields) or GGUF_DEFAULT_CONTEXT
    except (KeyError, ValueError, IndexError, OSError) as exc:
        raise ModelLoadError(f"{file}: unreadable GGUF metadata ({one_line(exc)})") from None


def render_chat_template(template: str, messages: Sequence[Message], *, bos: str, eos: str) -> str:
    """The prompt a Jinja chat template (as in Hugging Face tokenizers and GGUF metadata) makes of `messages`, ready
    for the assistant's answer."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise ValueError(f"the chat template refused the messages: {message}")

    environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    environment.globals["raise_exception"] = raise_exception
    return environment.from_string(template).render(
        messages=list(messages), add_generation_prompt=True, bos_token=bos, eos_token=eos
    )


def _model_file(path: Path) -> Path:
    """The GGUF file to open for `path` (a file, or a folder holding exactly one model)."""
    if path.is_file():
        if not is_gguf_file(path):
            raise ModelLoadError(f"{path}: not a GGUF file (it does not start with the GGUF magic bytes)")
        return path
    if not path.is_dir():
        raise ModelLoadError(f"{path}: no such file")
    files = gguf_files(path)
    if len(files) != 1:
        listed = ", ".join(p.name for p in files[:6]) or "none"
        raise ModelLoadError(f"{path}: {len(files)} GGUF files ({listed}); open one of them by its path")
    return files[0]


_FILE_TYPES = {"0": "F32", "1": "F16", "2": "Q4_0", "3": "Q4_1", "7": "Q8_0", "8": "Q5_0", "9": "Q5_1", "10": "Q2_K",
               "11": "Q3_K_S", "12": "Q3_K_M", "13": "Q3_K_L", "14": "Q4_K_S", "15": "Q4_K_M", "16": "Q5_K_S",
               "17": "Q5_K_M", "18": "Q6_K", "32": "BF16"}
"""llama.cpp's `general.file_type` numbers -> the quantisation names people know."""
