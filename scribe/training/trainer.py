"""The trainer: full fine-tuning, LoRA, or training from scratch, on one process or several (DDP).

One loop serves every mode. Each optimiser step trains on `batch_size` blocks of `context + 1` tokens drawn at random
positions of the training stream by a generator seeded with (seed, step), so the data order is a function of the step
alone: a resumed run sees exactly the batches an uninterrupted one would, and under DDP each of N processes takes its
share of the same blocks (the gradients are averaged), so the result matches a single process. `grad_accum` splits the
step into micro-batches. AdamW with linear warmup and cosine decay, gradient clipping, bf16 autocast where the hardware
does it natively (`scribe.training.precision`), and early stopping when the validation loss has not improved for
`patience` evaluations (the best weights are kept).

Checkpoints (scribe.training.checkpoint) are written every `checkpoint_every` steps and when the run is cancelled. The
result is a Hugging Face folder (LoRA merged into the weights) with a model card and the history of every evaluation
(`metrics.jsonl` and its picture `curves.svg`, `scribe.training.curves`), written under a temporary name and renamed
into place, so the final name never holds a half-written model.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import os
import shutil
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from scribe.training.checkpoint import (
    TrainState,
    find_checkpoint,
    load_checkpoint,
    save_checkpoint,
    set_rng_state,
    write_atomically,
)
from scribe.training import distributed
from scribe.training.corpus import Corpus, Text
from scribe.training.events import Checkpoint, Eval, Event, Finished, Sample, Saved, Started, Step
from scribe.training.job import save_failed

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

MODES = ("scratch", "finetune", "lora")
PRESETS: dict[str, dict[str, int]] = {
    "tiny": {"n_layer": 2, "n_head": 2, "n_embd": 64},
    "small": {"n_layer": 4, "n_head": 4, "n_embd": 256},
    "medium": {"n_layer": 6, "n_head": 6, "n_embd": 384},
    "char": {"n_layer": 4, "n_head": 4, "n_embd": 128},
}
"""From-scratch GPT-2 shapes. `small` is the bundled model's; `medium` is nanoGPT's Shakespeare GPU shape; `char` is
nanoGPT's Shakespeare CPU shape and implies a character-level tokenizer and the settings in PRESET_SETTINGS."""
PRESET_SETTINGS: dict[str, dict[str, int]] = {"char": {"context": 64, "batch_size": 12}}
"""Training settings a preset implies, TrainConfig fields by name; `scribe.training.plan` applies them where the writer
left the setting unset (an explicit --context or --batch-size wins). `char` trains nanoGPT's Shakespeare CPU
configuration (block 64, batch 12; its learning rate 1e-3, warmup 100 and dropout 0 are already the defaults), which
`bench/char_shakespeare.py` takes to 1.86 nats/char in 91 s; with the general defaults (256 x 32) the same five
minutes on 1 MB of Shakespeare reached 2.34 nats/char against 1.57."""
DEFAULT_LR = {"scratch": 1e-3, "finetune": 5e-4, "lora": 2e-3}
"""Peak learning rates when --lr is not given. Fine-tuning and LoRA were chosen so that a 3-minute `--max-minutes 3`
run of the bundled model (batch 32 x 256 tokens, budget warmup) visibly lowers held-out perplexity; measured on the
first 1,000,000 characters of Tiny Shakespeare, scored on its last 60,000 (21,191 tokens, never trained on), on a
busy 2-core Xeon: base 176.4; full fine-tuning 5e-5 -> 143.5 (12 steps), 5e-4 -> 129.5 (11 steps); LoRA 2e-4 ->
164.0 (16 steps), 2e-3 -> 136.2 (13 steps). Rechecked for full fine-tuning on the stage-6 bundled model (quiet, about
110 steps in 3 minutes): base 140.8; 5e-4 -> 67.5, 2e-4 -> 71.0."""
DEFAULT_WARMUP_STEPS = 100


class TrainingError(ValueError):
    """A run cannot start or continue; the message says why and what to do."""


@dataclass
class TrainConfig:
    """Everything a training run needs. JSON-serialisable (`to_json` / `from_json`), so a job process can get it."""

    data: list[str]
    """Files, folders or glob patterns of plain text."""
    output: Path
    """The model folder to write."""
    mode: str = "scratch"
    """scratch, finetune (all weights) or lora (adapters, merged when saved)."""
    base: str | None = None
    """The model to fine-tune: a name or folder resolved like `--model` (finetune and lora)."""
    preset: str = "small"
    """From-scratch shape, a key of PRESETS."""
    tokenizer: str = "train"
    """From scratch: `train` (byte-level BPE on this corpus), `char`, or a tokenizer folder to reuse."""
    vocab_size: int = 8192
    context: int = 256
    """Tokens per training block."""
    batch_size: int = 32
    """Blocks per optimiser step, over all processes and micro-batches."""
    grad_accum: int = 1
    """Micro-batches per step, at least; the trainer splits a step further when it would not fit in memory
    (`scribe.training.micro_batches`)."""
    lr: float | None = None
    """Peak learning rate (default per mode: DEFAULT_LR)."""
    min_lr_ratio: float = 0.1
    warmup_steps: int | None = 100
    """Linear warmup steps; None with `max_minutes`: the warmup lasts `warmup_fraction` of the budget instead (the
    card then gives the steps it took). None without a budget means DEFAULT_WARMUP_STEPS."""
    warmup_fraction: float = 0.05
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    dropout: float = 0.0
    """Dropout of a from-scratch model, and of a LoRA run's frozen base (the adapters have `lora_dropout`); full
    fine-tuning keeps the base model's own."""
    max_steps: int = 1000
    max_minutes: float | None = None
    """Wall-clock budget; the cosine follows whichever of steps and time runs out first."""
    eval_every: int = 250
    eval_tokens: int = 65_536
    """At most this many validation tokens are scored per evaluation."""
    checkpoint_every: int | None = None
    """Steps between checkpoints (default: eval_every)."""
    patience: int | None = None
    """Stop when this many evaluations in a row did not improve the validation loss (None: never)."""
    val_fraction: float = 0.1
    log_every: int = 10
    seed: int = 0
    threads: int | None = None
    device: str = "auto"
    strip_gutenberg: bool = True
    join_lines: bool = True
    """Join hard-wrapped lines back into paragraphs (`scribe.training.corpus.unwrap`; verse and lists keep theirs)."""
    holdout: list[str] = field(default_factory=list)
    """Files, folders or globs held out whole as the validation text (never trained on); empty: a seeded share of
    the documents (`val_fraction`)."""
    extend_context: bool = False
    """Fine-tuning a GPT-2 model to a `context` longer than its own: grow its position table (`extend_positions`)."""
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    precision: str = "auto"
    """auto, float32 or bfloat16: the arithmetic of the matrix products (`scribe.training.precision`)."""
    sample_prompt: str | None = None
    """Prompt of the samples at each evaluation (default: the first words of the validation text)."""
    sample_temperatures: tuple[float, ...] = (0.5, 0.8, 1.0)
    sample_tokens: int = 40
    max_memory_gb: float | None = None
    """Memory the base model may use (default: what is free on the device)."""
    job_dir: Path | None = None
    """Checkpoints and the job log (default: <data dir>/jobs/<output name>)."""
    resume: bool = False
    command: str = ""
    name: str = ""

    def __post_init__(self) -> None:
        self.output = Path(self.output).expanduser()
        self.name = self.name or self.output.name
        self.sample_temperatures = tuple(self.sample_temperatures)
        if self.job_dir is None:
            from scribe.config import Paths

            self.job_dir = Paths.discover().data / "jobs" / self.output.name
        self.job_dir = Path(self.job_dir).expanduser()
        if self.mode not in MODES:
            raise TrainingError(f"unknown mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if self.mode != "scratch" and not self.base:
            raise TrainingError(f"{self.mode} needs a base model (--base)")
        if self.preset not in PRESETS:
            raise TrainingError(f"unknown preset {self.preset!r}; choose one of {', '.join(PRESETS)}")
        if self.preset == "char" and self.tokenizer == "train":
            self.tokenizer = "char"
        if self.lr is None:
            self.lr = DEFAULT_LR[self.mode]
        if self.warmup_steps is None and not self.max_minutes:
            self.warmup_steps = DEFAULT_WARMUP_STEPS
        if not 0 < self.warmup_fraction < 1:
            raise TrainingError(f"warmup fraction must be between 0 and 1, got {self.warmup_fraction}")
        for name in ("context", "batch_size", "grad_accum", "max_steps", "eval_every", "log_every", "eval_tokens"):
            if getattr(self, name) < 1:
                raise TrainingError(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.batch_size % self.grad_accum:
            raise TrainingError(f"batch-size {self.batch_size} is not a multiple of grad-accum {self.grad_accum}")
        if self.lr <= 0:
            raise TrainingError(f"learning rate must be positive, got {self.lr}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise TrainingError(f"max-minutes must be positive, got {self.max_minutes}")
        if not 0 < self.val_fraction < 0.5:
            raise TrainingError(f"val fraction must be between 0 and 0.5, got {self.val_fraction}")

    @property
    def checkpoint_dir(self) -> Path:
        return self.job_dir / "checkpoint"

    def to_json(self) -> str:
        return json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "TrainConfig":
        return cls(**json.loads(text))

    def fingerprint(self) -> str:
        """Hash of the settings a resumed run must share with the checkpoint."""
        keys = ("mode", "base", "preset", "tokenizer", "vocab_size", "context", "batch_size", "lr", "warmup_steps",
                "weight_decay", "dropout", "val_fraction", "seed", "strip_gutenberg", "join_lines", "extend_context",
                "warmup_fraction",
                "lora_r", "lora_alpha")
        data = {k: getattr(self, k) for k in keys} | {"data": sorted(self.data), "holdout": sorted(self.holdout)}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class Ranks:
    """This process's place among the data-parallel processes (torchrun / accelerate launch set the variables)."""

    world: int = 1
    rank: int = 0
    local: int = 0

    @classmethod
    def from_env(cls) -> "Ranks":
        return cls(int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("RANK", 0)),
                   int(os.environ.get("LOCAL_RANK", 0)))

    @property
    def main(self) -> bool:
        return self.rank == 0


@dataclass
class Data:
    """The tokenised corpus."""

    corpus: Corpus
    tokenizer: "PreTrainedTokenizerBase"
    train: "torch.Tensor"
    val: "torch.Tensor"
    val_chars: int
    val_text: str
    cached: int
    val_documents: list[Text] = field(default_factory=list)
    """The held-out documents (whole files, or stretches of a single file), for the model card."""


class Trainer:
    """One training run; `run()` emits events through `emit` (main process only) and returns the Finished event.
    Setting `cancel` (or a KeyboardInterrupt) stops after the current step, writes a checkpoint and saves the model."""

    def __init__(self, config: TrainConfig, emit: Callable[[Event], None] = lambda event: None, *,
                 cancel: threading.Event | None = None) -> None:
        self.config = config
        self.ranks = Ranks.from_env()
        self._emit = emit
        self.cancel = cancel or threading.Event()
        self.state = TrainState(fingerprint=config.fingerprint())
        self.warmup_done_at: int | None = None
        """The first step past a budget-following warmup (for the card)."""
        self.memory_returned = False
        """Whether freed memory goes straight back to the system so that a step fits (`_fit_micro_batches`)."""

    def emit(self, event: Event) -> None:
        if self.ranks.main:
            self._emit(event)

    # --- set-up

    def run(self) -> Finished:
        """Read, tokenise, build or load the model, train, evaluate, checkpoint and save."""
        import torch

        from scribe.training.attention import attention_with_fast_dropout
        from scribe.training.dropout import faster_dropouts
        from scribe.training.loss import fuse_activations
        from scribe.training.precision import uses_bfloat16

        cfg = self.config
        self.device = self._device()
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        if self.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self.autocast = uses_bfloat16(cfg.precision, self.device, cfg.mode)
        torch.manual_seed(cfg.seed + self.ranks.rank)
        loaded = self._checkpoint_to_resume()
        if loaded is None and self.ranks.main:  # a fresh start: an older run's checkpoint must not be resumed later
            for old in ("checkpoint", "best"):
                shutil.rmtree(cfg.job_dir / old, ignore_errors=True)
        base_path = self._base_path()
        if base_path is not None:  # before reading data: a model that cannot fit is refused at once
            from scribe.training.finetune import check_memory

            limit = int(cfg.max_memory_gb * 1e9) if cfg.max_memory_gb else None
            check_memory(base_path, cfg.base or "", cfg.mode, self.device, self._weight_bytes(), limit)
        data = self._data(base_path)
        model = self._model(data.tokenizer, base_path)
        fuse_activations(model)
        faster_dropouts(model)
        attention_with_fast_dropout(model)
        self.data = data
        trainable = [p for p in model.parameters() if p.requires_grad]
        self._fit_micro_batches(model, sum(p.numel() for p in trainable))
        optimizer = self._optimizer(model)
        if loaded is not None:
            self._restore(loaded, model, optimizer)
        self.emit(Started(
            output=str(cfg.output), preset=cfg.preset if cfg.mode == "scratch" else "", mode=cfg.mode, base=cfg.base,
            parameters=sum(p.numel() for p in trainable), vocab_size=len(data.tokenizer), context=cfg.context,
            batch_size=cfg.batch_size, documents=len(data.corpus.documents), train_tokens=len(data.train),
            val_tokens=len(data.val), max_steps=cfg.max_steps, max_minutes=cfg.max_minutes,
            skipped=[[str(s.path), s.reason] for s in data.corpus.skipped], resumed_from=self.state.step,
            processes=self.ranks.world, cached_documents=data.cached, micro_batches=cfg.grad_accum,
            memory_returned=self.memory_returned, bfloat16=self.autocast,
        ))
        if cfg.mode != "scratch" and self.state.base_eval is None:
            self.state.base_eval = self._evaluate(model).to_dict()
            self._record(_eval(self.state.base_eval), [])
        reason = self._train(model, optimizer)
        return self._finish(model, optimizer, reason)

    def _device(self) -> "torch.device":
        import torch

        from scribe.engine.transformers_backend import pick_device

        if self.ranks.world > 1:
            if torch.cuda.is_available() and self.config.device in ("auto", "cuda"):
                torch.cuda.set_device(self.ranks.local)
            distributed.start("nccl" if torch.cuda.is_available() else "gloo")
            if torch.cuda.is_available() and self.config.device in ("auto", "cuda"):
                return torch.device("cuda", self.ranks.local)
        return pick_device(self.config.device)

    def _weight_bytes(self) -> int:
        return 2 if self.config.mode == "lora" and self.autocast else 4

    def _base_path(self) -> Path | None:
        if self.config.mode == "scratch":
            return None
        from scribe.engine.registry import resolve_model

        return resolve_model(self.config.base or "").path

    def _checkpoint_to_resume(self):  # noqa: ANN202 - Loaded | None
        cfg = self.config
        if not cfg.resume:
            return None
        found = find_checkpoint(cfg.checkpoint_dir)
        if found is None:
            raise TrainingError(f"nothing to resume: no checkpoint in {cfg.job_dir}")
        loaded = load_checkpoint(found)
        if loaded.state.fingerprint != cfg.fingerprint():
            raise TrainingError(
                f"the checkpoint in {cfg.job_dir} was made with different data or settings; resume with the same "
                "files, mode, base, shape, batch size, learning rate and seed (or start afresh without --resume)"
            )
        return loaded

    def _data(self, base_path: Path | None) -> Data:
        """Read, split and tokenise the corpus a piece at a time (`store_corpus`: the cleaned text waits in temporary
        files in the job folder, `scratch_store`s, gone once the tokens are in memory, or the process, is)."""
        from scribe.config import Paths
        from scribe.training.corpus import scratch_store, store_corpus
        from scribe.training.dataset import encode_documents, split_corpus

        cfg = self.config
        cfg.job_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as scratch:
            corpus = store_corpus(cfg.data, scratch.enter_context(scratch_store(cfg.job_dir)),
                                  strip_gutenberg=cfg.strip_gutenberg, join_lines=cfg.join_lines)
            if cfg.holdout:
                held = store_corpus(cfg.holdout, scratch.enter_context(scratch_store(cfg.job_dir)),
                                    strip_gutenberg=cfg.strip_gutenberg, join_lines=cfg.join_lines)
                held_paths = {d.path.resolve() for d in held.documents}
                train_docs = [d for d in corpus.documents if d.path.resolve() not in held_paths]
                val_docs = held.documents
                if not train_docs:
                    raise TrainingError("every file is held out (--holdout): give files to train on as well")
                corpus = Corpus(train_docs + val_docs, corpus.skipped + held.skipped)
            else:
                train_docs, val_docs = split_corpus(corpus.documents, cfg.val_fraction, cfg.seed)
            tokenizer = self._tokenizer(train_docs + val_docs, train_docs, base_path)
            cache = Paths.discover().cache
            train, val = encode_documents(train_docs, tokenizer, cache), encode_documents(val_docs, tokenizer, cache)
        if len(train.ids) < cfg.context + 1:
            raise TrainingError(
                f"the training text is {len(train.ids):,} tokens, shorter than one block of {cfg.context + 1}: add "
                f"text or lower --context (the corpus has {corpus.characters:,} characters)"
            )
        val_ids = val.ids[: cfg.eval_tokens + 1]
        if len(val_ids) < 2:
            raise TrainingError("the validation split is empty: add text or raise --val-fraction")
        scored = tokenizer.decode(val_ids[1:].tolist(), skip_special_tokens=True)  # the characters predicted
        val_text = tokenizer.decode(val_ids.tolist(), skip_special_tokens=True)
        return Data(corpus, tokenizer, train.ids, val_ids, len(scored), val_text, train.cached + val.cached,
                    list(val_docs))

    def _tokenizer(self, all_docs, train_docs, base_path: Path | None):  # noqa: ANN001, ANN202
        from transformers import AutoTokenizer

        from scribe.config import Paths
        from scribe.training.bpe import load_tokenizer
        from scribe.training.dataset import cached_bpe, char_tokenizer

        cfg = self.config
        if base_path is not None:
            tokenizer = AutoTokenizer.from_pretrained(base_path)
            if tokenizer.eos_token_id is None:
                raise TrainingError(f"{cfg.base}: its tokenizer has no end-of-text token to separate documents")
            return tokenizer
        saved = cfg.job_dir / "tokenizer"
        if cfg.resume and saved.is_dir():
            return load_tokenizer(saved)
        if cfg.tokenizer == "char":
            tokenizer = char_tokenizer(all_docs)
        elif cfg.tokenizer == "train":
            tokenizer = cached_bpe(train_docs, cfg.vocab_size, Paths.discover().cache)
        else:
            tokenizer = load_tokenizer(cfg.tokenizer)
        if self.ranks.main:
            write_atomically(saved, tokenizer.save_pretrained, "the tokenizer")
        return tokenizer

    def _model(self, tokenizer, base_path: Path | None, *, device: "torch.device | None" = None,  # noqa: ANN001
               dtype: "torch.dtype | str | None" = None) -> "torch.nn.Module":
        """The model to train: a new one from the preset, or the base (on `device`, in `dtype`: by default the run's
        own) made ready for the mode: its context extended when asked, LoRA adapters added."""
        import torch

        cfg = self.config
        if base_path is None:
            from transformers import GPT2Config, GPT2LMHeadModel

            eos = tokenizer.eos_token_id
            shape = PRESETS[cfg.preset]
            config = GPT2Config(vocab_size=len(tokenizer), n_positions=cfg.context, **shape, resid_pdrop=cfg.dropout,
                                embd_pdrop=cfg.dropout, attn_pdrop=cfg.dropout, bos_token_id=eos, eos_token_id=eos)
            torch.manual_seed(cfg.seed)
            return GPT2LMHeadModel(config).to(self.device)
        from scribe.context_length import hf_context_length
        from scribe.training.finetune import load_base

        if dtype is None:
            dtype = torch.bfloat16 if self._weight_bytes() == 2 else torch.float32
        model = load_base(base_path, device or self.device, dtype)
        context = hf_context_length(model.config)
        if context is not None and cfg.context > context:
            if not cfg.extend_context:
                raise TrainingError(f"--context {cfg.context} is longer than {cfg.base}'s context of {context} tokens "
                                    "(add --extend-context to grow a GPT-2 model's position table)")
            from scribe.training.positions import extend_positions

            extend_positions(model, cfg.context)
        if cfg.mode == "lora":
            from scribe.training.lora import add_adapters, set_base_dropout

            set_base_dropout(model, cfg.dropout)
            torch.manual_seed(cfg.seed)
            model = add_adapters(model, r=cfg.lora_r, alpha=cfg.lora_alpha, dropout=cfg.lora_dropout)
        return model

    def _fit_micro_batches(self, model: "torch.nn.Module", trainable: int) -> None:
        """Raise `grad_accum` to the micro-batches a step needs to fit in memory (`scribe.training.micro_batches`).
        The main process measures and decides, and every process takes its count (or ends with its error)."""
        from scribe.training.allocator import return_freed_memory_at_once
        from scribe.training.finetune import TooBigForMemory
        from scribe.training.loss import NextTokenLoss
        from scribe.training.micro_batches import (TIGHT_STEP_FACTOR, activation_bytes_per_row, fit_micro_batches,
                                                   room_for_steps)

        cfg = self.config
        chosen: list[int | bool] = [cfg.grad_accum, False]

        def fit() -> None:
            row_bytes = activation_bytes_per_row(NextTokenLoss(model, autocast=self.autocast), model, cfg.context,
                                                 self.device)
            limit = int(cfg.max_memory_gb * 1e9) if cfg.max_memory_gb else None
            room = room_for_steps(self.device, limit, self.ranks.world, trainable)
            split = functools.partial(fit_micro_batches, cfg.batch_size, self.ranks.world, cfg.grad_accum, row_bytes,
                                      room, context=cfg.context)
            try:
                chosen[0] = split()
            except TooBigForMemory:  # freed memory given straight back: a smaller peak, slower steps
                if self.device.type != "cpu" or not return_freed_memory_at_once():
                    raise
                chosen[:] = [split(step_factor=TIGHT_STEP_FACTOR), True]

        self._on_main("fitting a step in memory", fit)
        if self.ranks.world > 1:
            import torch.distributed as dist

            distributed.collective(self.ranks, "fitting a step in memory",
                                   lambda: dist.broadcast_object_list(chosen, src=0))
            if chosen[1] and not self.ranks.main:
                return_freed_memory_at_once()
        cfg.grad_accum, self.memory_returned = int(chosen[0]), bool(chosen[1])

    def _optimizer(self, model: "torch.nn.Module") -> "torch.optim.Optimizer":
        import torch

        cfg = self.config
        params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        decay = [p for n, p in params if p.dim() >= 2 and "wte" not in n and "wpe" not in n]
        rest = [p for n, p in params if not (p.dim() >= 2 and "wte" not in n and "wpe" not in n)]
        groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}]
        return torch.optim.AdamW(groups, lr=cfg.lr or 0.0, betas=(0.9, 0.95), fused=self.device.type in ("cpu", "cuda"))

    def _restore(self, loaded, model: "torch.nn.Module", optimizer: "torch.optim.Optimizer") -> None:  # noqa: ANN001
        names = {n for n, p in model.named_parameters() if p.requires_grad}
        if set(loaded.weights) != names:
            raise TrainingError(f"the checkpoint in {self.config.job_dir} does not match this model's weights")
        model.load_state_dict(loaded.weights, strict=False)
        optimizer.load_state_dict(loaded.optimizer_state)
        self.state = loaded.state
        if self.ranks.main:
            set_rng_state(loaded.rng)

    # --- the loop

    def lr_at(self, step: int, elapsed_s: float) -> float:
        """Linear warmup (over `warmup_steps`, or over the first `warmup_fraction` of the run when the warmup follows
        the budget), then cosine from lr to lr * min_lr_ratio over whichever of steps and time runs out first."""
        cfg = self.config
        lr = cfg.lr or 0.0
        progress = step / cfg.max_steps
        if cfg.max_minutes:
            progress = max(progress, elapsed_s / (cfg.max_minutes * 60))
        if cfg.warmup_steps is None:
            warm = max(progress, (step + 1) / cfg.max_steps) / cfg.warmup_fraction
            if warm < 1:
                return lr * warm
            if self.warmup_done_at is None:
                self.warmup_done_at = step
        elif step < cfg.warmup_steps:
            return lr * (step + 1) / cfg.warmup_steps
        floor = lr * cfg.min_lr_ratio
        return floor + 0.5 * (lr - floor) * (1 + math.cos(math.pi * min(1.0, progress)))

    def batch(self, step: int, micro: int) -> "torch.Tensor":
        """This process's rows of micro-batch `micro` of step `step`: [rows, context + 1] token ids."""
        import torch

        cfg, ranks = self.config, self.ranks
        generator = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        starts = torch.randint(0, len(self.data.train) - cfg.context, (cfg.batch_size,), generator=generator)
        per_micro = cfg.batch_size // cfg.grad_accum
        mine = starts[micro * per_micro : (micro + 1) * per_micro][ranks.rank :: ranks.world]
        rows = torch.stack([self.data.train[s : s + cfg.context + 1] for s in mine.tolist()])
        return rows.long().to(self.device, non_blocking=True)

    def _train(self, model: "torch.nn.Module", optimizer: "torch.optim.Optimizer") -> str:
        import torch

        from scribe.training.loss import NextTokenLoss

        cfg, st = self.config, self.state
        if cfg.batch_size // cfg.grad_accum % self.ranks.world:
            raise TrainingError(f"batch-size / grad-accum ({cfg.batch_size // cfg.grad_accum}) must be a multiple "
                                f"of the number of processes ({self.ranks.world})")
        loss_of = NextTokenLoss(model, autocast=self.autocast)
        ddp = loss_of
        if self.ranks.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            ddp = DistributedDataParallel(loss_of, device_ids=[self.ranks.local] if self.device.type == "cuda" else None)
        trainable = [p for p in model.parameters() if p.requires_grad]
        budget_s = cfg.max_minutes * 60 if cfg.max_minutes else None
        every_ckpt = cfg.checkpoint_every or cfg.eval_every
        start = time.monotonic() - st.elapsed_s
        window_loss, window_steps, window_start = torch.zeros((), device=self.device), 0, time.monotonic()
        reason = "max_steps"
        model.train()
        try:
            while st.step < cfg.max_steps:
                st.elapsed_s = time.monotonic() - start
                if budget_s is not None and st.step and st.elapsed_s >= budget_s:
                    reason = "max_minutes"
                    break
                if self._stop_requested():
                    reason = "interrupted"
                    break
                lr = st.lr = self.lr_at(st.step, st.elapsed_s)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                for micro in range(cfg.grad_accum):
                    block = self.batch(st.step, micro)
                    last = micro == cfg.grad_accum - 1
                    sync = contextlib.nullcontext() if last or ddp is loss_of else ddp.no_sync()
                    with sync:
                        loss = ddp(block) / cfg.grad_accum
                        loss.backward()
                    window_loss += loss.detach()
                torch.nn.utils.clip_grad_norm_(trainable, cfg.grad_clip)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                st.step += 1
                st.tokens += cfg.batch_size * cfg.context
                window_steps += 1
                if st.step % cfg.log_every == 0 or st.step == cfg.max_steps:
                    window_loss = self._report(window_loss, window_steps, window_start, start, lr, budget_s)
                    window_steps, window_start = 0, time.monotonic()
                if st.step % cfg.eval_every == 0 and st.step < cfg.max_steps:
                    if self._evaluate_and_sample(model):
                        reason = "early_stop"
                        break
                    window_start = time.monotonic()
                if st.step % every_ckpt == 0 and st.step < cfg.max_steps:
                    self._checkpoint(model, optimizer)
                    window_start = time.monotonic()
        except KeyboardInterrupt:
            reason = "interrupted"
        if window_steps:  # the steps since the last report, when the run stopped between reports
            self._report(window_loss, window_steps, window_start, start, st.lr or 0.0, budget_s)
        st.elapsed_s = time.monotonic() - start
        return reason

    def _stop_requested(self) -> bool:
        """The cancel flag, agreed on by every process (one cancelled process stops them all at the same step)."""
        if self.ranks.world == 1:
            return self.cancel.is_set()
        import torch
        import torch.distributed as dist

        flag = torch.tensor([1.0 if self.cancel.is_set() else 0.0], device=self.device)
        distributed.collective(self.ranks, f"training (step {self.state.step})", lambda: dist.all_reduce(flag))
        return bool(flag.item())

    def _report(self, window_loss: "torch.Tensor", steps: int, window_start: float, start: float, lr: float,
                budget_s: float | None) -> "torch.Tensor":
        """Emit a Step event for the steps since the last one; returns a zeroed loss accumulator."""
        cfg, st = self.config, self.state
        now = time.monotonic()
        st.elapsed_s = now - start
        st.train_loss = round(window_loss.item() / steps, 4)
        if not math.isfinite(st.train_loss):
            raise TrainingError(f"training diverged (the loss is {st.train_loss} at step {st.step}): lower --lr")
        rate = steps * cfg.batch_size * cfg.context / max(now - window_start, 1e-9)
        eta = (cfg.max_steps - st.step) * cfg.batch_size * cfg.context / max(rate, 1e-9)
        if budget_s is not None:
            eta = min(eta, max(0.0, budget_s - st.elapsed_s))
        self.emit(Step(st.step, st.train_loss, lr, round(rate, 1), round(st.elapsed_s, 1), round(eta, 1)))
        return window_loss.zero_()

    # --- evaluation, samples, checkpoints

    def _evaluate(self, model: "torch.nn.Module") -> Eval:
        from scribe.training.evaluate import block_nll, perplexity

        cfg, data = self.config, self.data
        model.eval()
        nats, count = block_nll(model, data.val.to(self.device), cfg.context, cfg.batch_size // cfg.grad_accum,
                                autocast=self.autocast)
        model.train()
        loss = nats / count
        result = Eval(step=self.state.step, val_loss=round(loss, 4), perplexity=round(perplexity(loss), 3),
                      bits_per_char=round(nats / max(data.val_chars, 1) / math.log(2), 4))
        self.emit(result)
        return result

    def _evaluate_and_sample(self, model: "torch.nn.Module") -> bool:
        """Evaluate, generate samples, keep the best weights; True when early stopping says stop."""
        cfg, st = self.config, self.state
        result = self._evaluate(model)
        st.last_eval = result.to_dict()
        self._record(result, self._sample(model))
        if st.best_eval is None or result.val_loss < st.best_eval["val_loss"] - 1e-4:
            st.best_eval, st.evals_since_best = st.last_eval, 0
            if cfg.patience:
                self._on_main("writing the best weights", lambda: self._write_best(model))
            return False
        st.evals_since_best += 1
        return bool(cfg.patience and st.evals_since_best >= cfg.patience)

    def _write_best(self, model: "torch.nn.Module") -> None:
        from safetensors.torch import save_file

        best = {n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad}
        write_atomically(self.config.job_dir / "best", lambda tmp: save_file(best, str(tmp / "weights.safetensors")),
                         "the best weights")

    def _record(self, result: Eval, samples: list[Sample]) -> None:
        """Add an evaluation and its samples to the history saved as `metrics.jsonl`."""
        self.state.history.append({
            "step": result.step, "train_loss": self.state.train_loss if result.step else None,
            "val_loss": result.val_loss, "perplexity": result.perplexity, "bits_per_char": result.bits_per_char,
            "samples": [{"temperature": s.temperature, "prompt": s.prompt, "text": s.text} for s in samples],
        })

    def _sample(self, model: "torch.nn.Module") -> list[Sample]:
        """One seeded sample per temperature (reported, and returned; none outside the main process)."""
        import torch

        if not self.ranks.main:
            return []
        cfg, tok = self.config, self.data.tokenizer
        prompt_text = cfg.sample_prompt if cfg.sample_prompt is not None else " ".join(self.data.val_text.split()[:4])
        ids = tok(prompt_text, add_special_tokens=False)["input_ids"][-(cfg.context // 2) :]
        prompt = torch.tensor([[tok.eos_token_id, *ids]], device=self.device)
        samples: list[Sample] = []
        model.eval()
        with torch.no_grad(), torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            for temperature in cfg.sample_temperatures:
                torch.manual_seed(cfg.seed)
                out = model.generate(
                    input_ids=prompt, attention_mask=torch.ones_like(prompt), do_sample=True, temperature=temperature,
                    top_k=0, top_p=1.0, max_new_tokens=max(1, min(cfg.sample_tokens, cfg.context - prompt.shape[1])),
                    pad_token_id=tok.eos_token_id,
                )
                text = tok.decode(out[0, prompt.shape[1] :], skip_special_tokens=True)
                samples.append(Sample(step=self.state.step, temperature=temperature, prompt=prompt_text, text=text))
                self.emit(samples[-1])
        model.train()
        return samples

    def _checkpoint(self, model: "torch.nn.Module", optimizer: "torch.optim.Optimizer") -> None:
        def write() -> None:
            weights = {n: p for n, p in model.named_parameters() if p.requires_grad}
            save_checkpoint(self.config.checkpoint_dir, weights, optimizer.state_dict(), self.state)
            self.emit(Checkpoint(step=self.state.step, path=str(self.config.checkpoint_dir)))

        self._on_main(f"writing the checkpoint at step {self.state.step}", write)

    def _on_main(self, doing: str, work: Callable[[], None]) -> None:
        """`work` in the main process only; every process ends with its error when it fails
        (`scribe.training.distributed.on_main`)."""
        distributed.on_main(self.ranks, doing, work)

    # --- the end

    def _finish(self, model: "torch.nn.Module", optimizer: "torch.optim.Optimizer", reason: str) -> Finished:
        cfg, st = self.config, self.state
        if st.step and (st.last_eval is None or st.last_eval["step"] != st.step):
            self._evaluate_and_sample(model)
        if st.step:
            self._checkpoint(model, optimizer)  # also at the end, so --resume with more --max-steps can go on
        final = _eval(st.last_eval)
        if cfg.patience and st.best_eval is not None and st.best_eval["step"] != st.step:
            from safetensors.torch import load_file

            model.load_state_dict(load_file(str(cfg.job_dir / "best" / "weights.safetensors")), strict=False)
            final = _eval(st.best_eval)
        if cfg.warmup_steps is None:  # the card gives the steps the budget's warmup lasted
            cfg.warmup_steps = self.warmup_done_at if self.warmup_done_at is not None else st.step

        def save() -> None:
            try:
                self._save(model, final)
            except Exception as exc:  # whatever failed, the checkpoint just written keeps what was trained
                raise TrainingError(save_failed(cfg.output, exc, f"the checkpoint at step {st.step} in "
                                                f"{cfg.checkpoint_dir}", cfg.command)) from exc

        self._on_main("saving the model", save if st.step else lambda: None)
        base = st.base_eval
        finished = Finished(
            reason=reason, steps=st.step, tokens=st.tokens, elapsed_s=round(st.elapsed_s, 1),
            val_loss=final.val_loss if final else None, perplexity=final.perplexity if final else None,
            bits_per_char=final.bits_per_char if final else None, path=str(cfg.output) if st.step else "",
            base_val_loss=base["val_loss"] if base else None, base_perplexity=base["perplexity"] if base else None,
        )
        self.emit(finished)
        return finished

    def _save(self, model: "torch.nn.Module", final: Eval | None) -> None:
        """The Hugging Face folder with the model card, written under a temporary name then renamed."""
        from transformers import GenerationConfig

        from scribe.training.card import write_card
        from scribe.training.curves import write_history

        cfg, tok = self.config, self.data.tokenizer
        plain = model
        if cfg.mode == "lora":
            from scribe.training.lora import merged

            plain = merged(self._in_base_precision(model) if self.autocast else model)

        def fill(tmp: Path) -> None:
            plain.save_pretrained(tmp)
            tok.save_pretrained(tmp)
            if cfg.mode == "scratch":
                eos = tok.eos_token_id
                GenerationConfig(do_sample=True, temperature=0.8, top_k=40, top_p=0.95, repetition_penalty=1.1,
                                 max_new_tokens=min(100, cfg.context), bos_token_id=eos, eos_token_id=eos,
                                 pad_token_id=eos).save_pretrained(tmp)
            write_history(tmp, self.state.history)
            write_card(tmp / "README.md", self, final, plain)

        write_atomically(cfg.output, fill, "the model")
        self.emit(Saved(step=self.state.step, path=str(cfg.output)))

    def _in_base_precision(self, model: "torch.nn.Module") -> "torch.nn.Module":
        """The LoRA model again, on the CPU, with its adapters on a fresh copy of the base in the precision its files
        hold: a base trained in bfloat16 is not saved rounded. The training copy of the base goes first (nothing
        needs it after the run), so the two copies never take memory together."""
        import torch
        from peft import get_peft_model_state_dict, set_peft_model_state_dict

        from scribe.training.allocator import release_free_memory

        adapters = {name: tensor.detach().to("cpu", copy=True)
                    for name, tensor in get_peft_model_state_dict(model).items()}
        for weight in model.parameters():
            if not weight.requires_grad:
                weight.data = torch.empty(0, dtype=weight.dtype, device=weight.device)
        release_free_memory()
        fresh = self._model(self.data.tokenizer, self._base_path(), device=torch.device("cpu"), dtype="auto")
        set_peft_model_state_dict(fresh, adapters)
        return fresh


def _eval(data: dict[str, Any] | None) -> Eval | None:
    """An Eval event back from its dict."""
    return Eval(**{k: v for k, v in data.items() if k != "event"}) if data else None
