"""The PyTorch backend: any causal language model in Hugging Face format, decoded by scribe's own KV-cached loop.

Loading never runs code from the model folder unless `trust_remote_code` is set, prefers safetensors, and reads
`pytorch_model.bin` only with `weights_only=True` (a pickle that holds code instead of tensors is refused).

Decoding runs the prompt once, then one token per forward pass with a key/value cache, sampling with
`scribe.sampling.sampler.Sampler`. GPT-2 models decode with scribe's own step (`scribe.engine.gpt2_decoder`: a
preallocated cache, no per-call overhead from transformers, CUDA graphs on a GPU), Llama-architecture models (Llama,
Qwen2, SmolLM2, Mistral) with `scribe.engine.llama_decoder` (the same, without graphs); other models with
transformers' forward pass and its dynamic cache. dtype "int8" (CPU) quantises the weight matrices to int8.

With scribe's own decoders the key/value cache outlives a stream (`scribe.engine.prompt_cache`): a regenerate, an
extend or text typed at the end runs only the tokens after the prefix it shares with the previous request; and
`stream_many` decodes several drafts of one prompt as one batch (`scribe.engine.batched`). transformers' own path
(other architectures) runs every prompt whole and drafts one after another.

Streams run through the shared loop of `scribe.engine.streaming` (timing, stop strings, cancelling, the end token, errors)
fed by scribe's sampler on this model's logits, or by beam or contrastive search.

torch and scribe's decoders are imported by the functions that run a model, not when this module loads, so the model
registry asks `TransformersBackend.detect` without importing torch (`scribe models list` stays light).
"""

from __future__ import annotations

import gc
import inspect
import pickle
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scribe.context_length import hf_context_length
from scribe.engine.base import Capability, Message, ModelInfo, ModelLoadError, StreamEnd, TokenScore, TokenStep
from scribe.engine.streaming import StreamRun, TokenBackend, fit_prompt, one_line, sampled_tokens
from scribe.engine.threads import StepThreads, apply_threads, requested_threads
from scribe.engine.token_pieces import PieceCounter
from scribe.sampling.params import SamplingParams
from scribe.sampling.processors import Ranker
from scribe.sampling.sampler import SampleResult

if TYPE_CHECKING:
    import torch

    from scribe.engine.gpt2_decoder import GPT2Decoder
    from scribe.engine.llama_decoder import LlamaDecoder
    from scribe.engine.prompt_cache import PromptCache

_DTYPES = {
    "float32": "float32",
    "fp32": "float32",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
}
"""dtype names the writer may give -> the torch dtype's attribute name."""
_DEFAULT_CONTEXT = 2048


def pick_device(device: str) -> torch.device:
    """"auto" -> cuda if available, else mps, else cpu; otherwise the named device, checked to exist."""
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError:
        raise ModelLoadError(f"unknown device {device!r}: use auto, cpu, cuda, cuda:N or mps") from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(f"device {device!r} asked for, but this PyTorch build or machine has no CUDA")
    if chosen.type == "mps" and not torch.backends.mps.is_available():
        raise ModelLoadError(f"device {device!r} asked for, but MPS is not available here")
    return chosen


def cpu_choices() -> tuple[int, bool]:
    """The writer's CPU settings for a model being loaded: torch's thread count (`SCRIBE_THREADS`) and whether float32
    steps multiply through OpenBLAS (`SCRIBE_BLAS`, `scribe.engine.blas`); ModelLoadError naming a wrong one."""
    from scribe.engine.blas import openblas_preferred

    try:
        return apply_threads(), openblas_preferred()
    except ValueError as exc:
        raise ModelLoadError(str(exc)) from None


def pick_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """"auto" -> bfloat16 on CUDA with bf16 support (else float16), float16 on mps, float32 on cpu.

    "int8" loads in float32 (the weights are quantised after loading, CPU only)."""
    import torch

    if dtype == "int8":
        if device.type != "cpu":
            raise ModelLoadError(f"dtype int8 is a CPU mode; on {device.type} use bfloat16 or float16")
        return torch.float32
    if dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float16 if device.type == "mps" else torch.float32
    if dtype not in _DTYPES:
        raise ModelLoadError(f"unknown dtype {dtype!r}: use auto, float32, float16, bfloat16 or int8")
    return getattr(torch, _DTYPES[dtype])


def _check_folder(path: Path) -> str:
    """Refuse folders that cannot hold a model; return the weights format found."""
    if not path.is_dir():
        raise ModelLoadError(f"{path}: no such folder")
    if not (path / "config.json").is_file():
        raise ModelLoadError(f"{path}: no config.json, so this is not a Hugging Face model folder")
    if any(path.glob("*.safetensors")):
        return "safetensors"
    if any(path.glob("pytorch_model*.bin")):
        return "pytorch_model.bin"
    raise ModelLoadError(f"{path}: no weights (model.safetensors or pytorch_model.bin)")


class TransformersSteps:
    """transformers' own forward pass with its dynamic cache: prefill and one-token steps for any causal LM."""

    def __init__(self, model: torch.nn.Module) -> None:
        self._model = model
        self._cache: object | None = None
        self._kwargs: dict[str, object] = {"use_cache": True}
        if "logits_to_keep" in inspect.signature(model.forward).parameters:
            self._kwargs["logits_to_keep"] = 1

    def reserve(self, capacity: int) -> None:
        """Start a new sequence (the dynamic cache grows as it goes)."""
        self._cache = None

    def prefill(self, ids: torch.Tensor) -> torch.Tensor:
        """The next-token logits after the prompt `ids` (1-D)."""
        return self._forward(ids)

    def step(self, token: torch.Tensor) -> torch.Tensor:
        """The next-token logits after one more token (a 1-element tensor)."""
        return self._forward(token)

    def rewind(self, length: int) -> None:
        """Forget every cached position from `length` on."""
        if self._cache is not None:
            self._cache.crop(length)  # type: ignore[attr-defined]

    def _forward(self, ids: torch.Tensor) -> torch.Tensor:
        output = self._model(input_ids=ids[None], past_key_values=self._cache, **self._kwargs)
        self._cache = output.past_key_values
        return output.logits[0, -1]


class TransformersBackend(TokenBackend):
    """A Hugging Face causal LM and its tokenizer on one device.

    `decoder`: "auto" decodes GPT-2 models with `GPT2Decoder`, Llama-architecture ones with `LlamaDecoder` and others
    with `TransformersSteps`; "transformers"
    uses `TransformersSteps` for every model. `int8` quantises the weight matrices (CPU); `openblas` sends scribe's
    own decoders' float32 one-row products on the CPU to numpy's OpenBLAS (`scribe.engine.blas`; `load` asks
    `openblas_preferred`) where scribe's native kernels (`scribe.engine.native`) are off, cannot be built or their
    copy of the weights would not fit. `cuda_graphs=False` keeps GPT-2 steps eager on CUDA.
    """

    capabilities = frozenset(
        {Capability.LOGITS, Capability.SEARCH, Capability.SCORE, Capability.ANALYSE, Capability.CHAT, Capability.BATCH}
    )

    @classmethod
    def detect(cls, path: Path) -> bool:
        """A folder with a Hugging Face config.json."""
        return path.is_dir() and (path / "config.json").is_file()

    def supports(self, capability: Capability | str) -> bool:
        """Chat only when the tokenizer has a chat template (instruct models); batched drafts with scribe's own
        decoders (GPT-2, Llama architecture)."""
        if Capability(capability) is Capability.CHAT:
            return bool(getattr(self._tokenizer, "chat_template", None))
        if Capability(capability) is Capability.BATCH:
            return self._prompt_cache is not None
        return super().supports(capability)

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: object,
        info: ModelInfo,
        *,
        decoder: str = "auto",
        int8: bool = False,
        openblas: bool = False,
        cuda_graphs: bool = True,
    ) -> None:
        if decoder not in ("auto", "transformers"):
            raise ValueError(f"decoder must be auto or transformers, got {decoder!r}")

        from scribe.engine import gpt2_decoder, llama_decoder
        from scribe.engine.prompt_cache import PromptCache

        self._model = model
        self._tokenizer = tokenizer
        self._pieces: PieceCounter | None = None
        self._pieces_lock = threading.Lock()
        self.info = info
        self._device = next(model.parameters()).device
        self._step_threads = StepThreads(requested_threads())
        """The thread count of each one-token step on the CPU: SCRIBE_THREADS, else all cores the other programs leave."""
        self._steps: GPT2Decoder | LlamaDecoder | TransformersSteps
        self._prompt_cache: PromptCache | None = None
        """scribe's own decoders keep their key/value cache between streams (`scribe.engine.prompt_cache`)."""
        self._ranker: Ranker | None = None
        """The sampler's partial sort where the native kernels have one (`NativeKernels.top_positions`)."""
        if decoder == "auto" and (gpt2_decoder.supports(model) or llama_decoder.supports(model)):
            if gpt2_decoder.supports(model):
                self._steps = gpt2_decoder.GPT2Decoder(model, cuda_graphs=cuda_graphs)
            else:
                self._steps = llama_decoder.LlamaDecoder(model)
            self._use_cpu_kernels(int8=int8, openblas=openblas)
            self._prompt_cache = PromptCache(self._steps)
        else:
            if int8:
                self._model = model = _quantize_linear_layers(model)
            self._steps = TransformersSteps(model)
        eos = model.generation_config.eos_token_id if model.generation_config is not None else None
        eos_ids = set(eos if isinstance(eos, list) else [eos])
        eos_ids.add(tokenizer.eos_token_id)
        self._eos = frozenset(i for i in eos_ids if i is not None)
        start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        self._start_id: int | None = start

    def _use_cpu_kernels(self, *, int8: bool, openblas: bool) -> None:
        """Pick the products and steps of scribe's own decoder on the CPU: the native kernels for int8 weights where
        they have the int8 product (else fbgemm's) and for float32 ones where their copy of the weights fits in
        memory; else OpenBLAS for float32 when `openblas`, else PyTorch's."""
        import torch

        from scribe.engine import native
        from scribe.engine.kv_cache import KVCacheSlots

        steps = self._steps
        assert isinstance(steps, KVCacheSlots)
        if self._device.type != "cpu" or steps.dtype != torch.float32:
            return
        kernels = native.kernels()
        self._ranker = kernels.top_positions if kernels is not None else None
        if kernels is None and not native.switched_off():
            self.slower_because = (f"scribe's native kernels are not built ({native.build_problem()}): decoding "
                                   "runs on PyTorch's slower products (SCRIBE_NATIVE=0 skips the build and this note)")
        if int8:
            steps.quantize_int8(kernels)
        if kernels is not None and (kernels.int8 if int8 else native.room_for_copies(steps.weight_bytes())):
            steps.use_native_kernels(kernels)
        elif openblas and not int8:
            steps.multiply_rows_with_openblas()
            self._step_threads.openblas = True

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        name: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        trust_remote_code: bool = False,
    ) -> "TransformersBackend":
        """Load the model folder at `path`; ModelLoadError with a one-line reason naming the path on any failure."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as transformers_logging

        path = Path(path)
        weights = _check_folder(path)
        chosen_device = pick_device(device)
        chosen_dtype = pick_dtype(dtype, chosen_device)
        threads, openblas = cpu_choices()
        try:
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True, trust_remote_code=trust_remote_code)
        except Exception as exc:
            raise ModelLoadError(f"{path}: cannot load the tokenizer: {one_line(exc)}") from exc
        if len(tokenizer) < 2:  # transformers builds an empty tokenizer when the folder has no tokenizer files
            raise ModelLoadError(f"{path}: no tokenizer (tokenizer.json, vocab.json with merges.txt, or tokenizer.model)")
        progress_bar = transformers_logging.is_progress_bar_enabled()
        transformers_logging.disable_progress_bar()  # its tqdm output on stderr would garble the TUI
        try:
            model = AutoModelForCausalLM.from_pretrained(
                path,
                dtype=chosen_dtype,
                local_files_only=True,
                trust_remote_code=trust_remote_code,
                use_safetensors=True if weights == "safetensors" else None,
                weights_only=True,
                device_map=None if chosen_device.type == "cpu" else str(chosen_device),
            )
        except torch.OutOfMemoryError as exc:
            raise ModelLoadError(f"{path}: not enough memory on {chosen_device} to load this model") from exc
        except pickle.UnpicklingError as exc:
            raise ModelLoadError(
                f"{path}: cannot load the weights ({weights}): refused, the pickle holds more than tensors "
                "(it could run code); use a safetensors copy from a source you trust"
            ) from exc
        except Exception as exc:
            raise ModelLoadError(f"{path}: cannot load the weights ({weights}): {one_line(exc)}") from exc
        finally:
            if progress_bar:
                transformers_logging.enable_progress_bar()
        model.eval()
        int8 = dtype == "int8"
        config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
        info = ModelInfo(
            name=name or path.name,
            backend="transformers",
            location=str(path),
            device=str(chosen_device),
            dtype="int8" if int8 else str(chosen_dtype).removeprefix("torch."),
            context_length=_context_length(config, tokenizer),
            vocab_size=int(getattr(config, "vocab_size", 0) or len(tokenizer)),
            parameters=sum(p.numel() for p in model.parameters()),
            extra={
                "architecture": (model.config.architectures or [type(model).__name__])[0],
                "weights": weights,
                "cpu_threads": str(threads),
            },
        )
        try:
            return cls(model, tokenizer, info, int8=int8, openblas=openblas)
        except (RuntimeError, ValueError) as exc:  # int8 kernels missing from this PyTorch build
            raise ModelLoadError(f"{path}: cannot quantise to int8: {one_line(exc)}") from exc

    def count_tokens(self, text: str) -> int:
        """Number of tokens the model sees for this text (special tokens the tokenizer adds included)."""
        return self.count_tokens_batch([text])[0]

    def count_tokens_batch(self, texts: list[str]) -> list[int]:
        """`count_tokens` of each text: by the Rust tokenizer's pieces (`scribe.engine.token_pieces`), or encoded."""
        fast = getattr(self._tokenizer, "backend_tokenizer", None)
        if fast is None:
            return [len(self._encode(text)) for text in texts]
        with self._pieces_lock:
            if self._pieces is None:
                self._pieces = PieceCounter(fast, add_special_tokens=True)
        return self._pieces.count(texts)

    def score(self, text: str) -> list[TokenScore]:
        """Each token of `text` with its log-probability (the perplexity lens; see `scribe.engine.scoring`)."""
        from scribe.engine.scoring import score_causal_lm

        return score_causal_lm(self._model, self._tokenizer, text, context_length=self.info.context_length)

    def close(self) -> None:
        """Drop the model and give its memory back."""
        import torch

        device = self._device
        del self._model, self._steps, self._prompt_cache
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()

    def _chat_ids(self, messages: Sequence[Message]) -> list[int]:
        """`messages` through the tokenizer's chat template."""
        ids = self._tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=True)
        return list(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)

    def _tokens(self, ids: list[int], params: SamplingParams, run: StreamRun,
                alternatives: int) -> Iterator[SampleResult]:
        """scribe's sampler on the model's logits, or beam or contrastive search (`params.search`, from
        `scribe.engine.transformers_search`), released through the same loop."""
        import torch

        with torch.inference_mode():
            if params.search is not None:
                from scribe.engine.transformers_search import searched

                yield from searched(self._model, ids, params, run, context_length=self.info.context_length,
                                    eos=self._eos, alternatives=alternatives, token_text=self.token_text)
            else:
                yield from sampled_tokens(
                    self._prompt_cache or self._steps, ids, params, run, context_length=self.info.context_length,
                    alternatives=alternatives, token_text=self.token_text, decode=self._decode, eos=self._eos,
                    device=self._device, threads=self._step_threads.scope if self._device.type == "cpu" else None,
                    ranker=self._ranker,
                )

    def stream_many(
        self,
        prompt: str,
        params: Sequence[SamplingParams],
        *,
        alternatives: int = 5,
        cancel: threading.Event | None = None,
    ) -> Iterator[tuple[int, TokenStep | StreamEnd]]:
        """Continuations of `prompt`, one per settings in `params`, decoded as one batch with scribe's own decoders
        (`scribe.engine.batched`); one after another when they cannot share a batch (search, banned phrases,
        different lengths) or the model has no such decoder."""
        from scribe.engine.batched import batched_streams, can_batch

        if self._prompt_cache is None or not can_batch(params):
            yield from super().stream_many(prompt, params, alternatives=alternatives, cancel=cancel)
            return
        try:
            ids = self._prompt_ids(prompt, params[0].max_new_tokens)
        except ValueError:  # each stream ends with the error, as a single stream does
            yield from super().stream_many(prompt, params, alternatives=alternatives, cancel=cancel)
            return
        yield from batched_streams(
            self._prompt_cache, self._steps, ids, params, context_length=self.info.context_length,
            alternatives=alternatives, token_text=self.token_text, decode=self._decode, eos=self._eos,
            device=self._device, cancel=cancel, ranker=self._ranker,
        )

    def forget_prompt(self) -> None:
        """Empty the prompt cache: the next request runs its whole prompt (benchmarks measure the cold case)."""
        if self._prompt_cache is not None:
            self._prompt_cache.clear()

    # --- analysis (Capability.ANALYSE)

    def encode_ids(self, text: str) -> list[int]:
        """The token ids the model sees for `text`."""
        return self._encode(text)

    def attention_shape(self) -> tuple[int, int]:
        """(layers, heads) from the model's config."""
        config = self._model.config
        config = config.get_text_config() if hasattr(config, "get_text_config") else config
        return int(getattr(config, "num_hidden_layers", 0) or 0), int(getattr(config, "num_attention_heads", 0) or 0)

    def analysis_pass(self, ids: Sequence[int], *, attentions: bool) -> tuple[Any, Any, list[str], str | None]:
        """One forward pass with transformers' model, switched to eager attention (the only implementation that
        returns its weights) and back."""
        import torch

        model = self._model
        previous = getattr(model.config, "_attn_implementation", None)
        switch = attentions and previous != "eager" and hasattr(model, "set_attn_implementation")
        try:
            if switch:
                model.set_attn_implementation("eager")
            with torch.inference_mode():
                output = model(input_ids=torch.tensor([list(ids)], device=self._device), use_cache=False,
                               output_attentions=attentions)
        finally:
            if switch:
                model.set_attn_implementation(previous)
        logits = output.logits[0]
        found = tuple(output.attentions or ()) if attentions else ()
        if not found:
            reason = "attention not asked for" if not attentions else (
                f"{type(model).__name__} does not return attention weights")
            return logits, None, [], reason
        stacked = torch.stack([layer[0] for layer in found])
        return logits, stacked, [f"layer {i}" for i in range(len(found))], None

    def _encode(self, text: str) -> list[int]:
        return list(self._tokenizer(text)["input_ids"])

    def _decode(self, ids: Sequence[int]) -> str:
        return self._tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def _prompt_ids(self, prompt: str, max_new_tokens: int) -> list[int]:
        """The prompt's ids, cut from the left to fit the context; the start token alone for an empty prompt."""
        return fit_prompt(self._encode(prompt), context_length=self.info.context_length, max_new_tokens=max_new_tokens,
                          start=self._start_id, bos=self._tokenizer.bos_token_id)


def _quantize_linear_layers(model: torch.nn.Module) -> torch.nn.Module:
    """The model with every nn.Linear replaced by an int8 dynamic-quantised linear (per-channel weight scales)."""
    import warnings

    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():  # torch.ao.quantization warns that it moves to torchao
        warnings.simplefilter("ignore")
        return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, inplace=True)


def _context_length(config: object, tokenizer: object) -> int:
    """What the config says (`hf_context_length`), else the tokenizer's limit, else _DEFAULT_CONTEXT."""
    if (stated := hf_context_length(config)) is not None:
        return stated
    max_length = getattr(tokenizer, "model_max_length", None)
    return max_length if isinstance(max_length, int) and 0 < max_length < 1_000_000 else _DEFAULT_CONTEXT
