"""A minimal from-scratch trainer for a GPT-2-architecture model (`transformers.GPT2LMHeadModel`).

Documents are tokenised once and joined with `<|endoftext|>`; training samples random contiguous blocks. AdamW with
linear warmup and cosine decay, gradient clipping, a step limit and a wall-clock budget (the cosine follows whichever
of the two runs out first). Every `eval_every` steps it measures validation loss on a held-out split of whole documents,
generates short samples, and saves a complete Hugging Face folder (temporary sibling folder, then renamed into place),
so a usable model exists even when the run is stopped. Progress is reported as `scribe.training.events` objects.
"""

from __future__ import annotations

import math
import os
import platform
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from scribe.training.bpe import DEFAULT_VOCAB_SIZE, load_tokenizer, train_bpe
from scribe.training.scratch_card import write_card
from scribe.training.corpus import Corpus, Document, read_corpus
from scribe.training.events import Eval, Event, Finished, Sample, Saved, Started, Step

if TYPE_CHECKING:
    import torch
    from transformers import GPT2LMHeadModel, PreTrainedTokenizerBase

PRESETS: dict[str, dict[str, int]] = {
    "tiny": {"n_layer": 2, "n_head": 2, "n_embd": 64},
    "small": {"n_layer": 4, "n_head": 4, "n_embd": 256},
    "medium": {"n_layer": 6, "n_head": 6, "n_embd": 384},
}
"""Model shapes by name. `small` is the bundled model's shape (a good fit for about an hour on two CPU cores)."""


@dataclass
class ScratchConfig:
    """Everything a from-scratch training run needs."""

    data: list[str]
    """Files, folders or glob patterns of plain text."""
    output: Path
    """The model folder to write (replaced atomically at every save)."""
    tokenizer: str = "train"
    """`train` for a new byte-level BPE, or a tokenizer folder to reuse."""
    vocab_size: int = DEFAULT_VOCAB_SIZE
    """Vocabulary size of a newly trained tokenizer."""
    preset: str = "small"
    """Model shape, a key of PRESETS."""
    context: int = 256
    """Tokens per training block (also the model's maximum context)."""
    batch_size: int = 32
    """Blocks per optimiser step."""
    lr: float = 1e-3
    """Peak learning rate."""
    min_lr_ratio: float = 0.1
    """The cosine decays to lr * min_lr_ratio."""
    warmup_steps: int = 100
    """Linear warmup steps."""
    weight_decay: float = 0.1
    """AdamW weight decay (matrices only; biases, norms and embeddings are not decayed)."""
    grad_clip: float = 1.0
    """Gradient norm clip."""
    max_steps: int = 5000
    """Stop after this many optimiser steps."""
    max_minutes: float | None = None
    """Stop after this many minutes of training wall-clock time (counted from the first step, after reading and
    tokenising; checked after every step, so at least one step is trained)."""
    eval_every: int = 250
    """Evaluate, sample and save every this many steps (and at the end)."""
    eval_tokens: int = 65_536
    """At most this many validation tokens are scored per evaluation."""
    val_fraction: float = 0.01
    """Share of the text held out for validation (whole documents, chosen with the seed)."""
    log_every: int = 10
    """Emit a Step event every this many steps."""
    seed: int = 0
    """Seeds data order, initialisation, the split and the samples."""
    threads: int | None = None
    """torch CPU threads (None: torch's default)."""
    strip_gutenberg: bool = True
    """Remove Project Gutenberg headers and footers from the corpus."""
    sample_prompt: str = "It was"
    """Prompt for the samples generated at each evaluation."""
    sample_temperatures: tuple[float, ...] = (0.5, 0.8, 1.0)
    """Temperatures of those samples."""
    sample_tokens: int = 40
    """New tokens per sample."""
    command: str = ""
    """The command line that started the run, recorded in the model card."""
    name: str = field(default="")
    """Model name for the card (defaults to the output folder's name)."""

    def __post_init__(self) -> None:
        self.output = Path(self.output).expanduser()
        self.name = self.name or self.output.name
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; choose one of {', '.join(PRESETS)}")
        for name in ("context", "batch_size", "max_steps", "eval_every", "log_every", "eval_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"learning rate must be positive, got {self.lr}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ValueError(f"max-minutes must be positive, got {self.max_minutes}")
        if not 0 < self.val_fraction < 0.5:
            raise ValueError(f"val fraction must be between 0 and 0.5, got {self.val_fraction}")


@dataclass
class Metrics:
    """What the run has reached so far (written into the model card)."""

    step: int = 0
    tokens: int = 0
    elapsed_s: float = 0.0
    train_loss: float | None = None
    val: Eval | None = None
    samples: list[Sample] = field(default_factory=list)


def split_documents(documents: Sequence[Document], fraction: float, seed: int) -> tuple[list[Document], list[Document]]:
    """(train, validation): whole documents, chosen in a seeded order until about `fraction` of the text is held out.
    A single document is split at a line break near its end instead."""
    total = sum(len(d.text) for d in documents)
    target = total * fraction
    if len(documents) == 1:
        doc = documents[0]
        cut = doc.text.rfind("\n", 0, int(len(doc.text) * (1 - fraction))) + 1 or int(len(doc.text) * (1 - fraction))
        return [Document(doc.path, doc.text[:cut])], [Document(doc.path, doc.text[cut:])]
    order = list(range(len(documents)))
    random.Random(seed).shuffle(order)
    held: set[int] = set()
    held_chars = 0
    for i in sorted(order, key=lambda i: (len(documents[i].text) > 2 * target, order.index(i))):
        if held_chars >= target or len(held) == len(documents) - 1:
            break
        held.add(i)
        held_chars += len(documents[i].text)
    return [d for i, d in enumerate(documents) if i not in held], [d for i, d in enumerate(documents) if i in held]


def encode(documents: Sequence[Document], tokenizer: "PreTrainedTokenizerBase") -> "torch.Tensor":
    """All documents as one token stream, each followed by the end-of-text token."""
    import torch

    eos = tokenizer.eos_token_id
    ids: list[int] = []
    for doc in documents:
        for start in range(0, len(doc.text), 1_000_000):
            ids.extend(tokenizer(doc.text[start : start + 1_000_000], add_special_tokens=False)["input_ids"])
        ids.append(eos)
    return torch.tensor(ids, dtype=torch.int32)


def lr_at(step: int, progress: float, config: ScratchConfig) -> float:
    """Learning rate: linear warmup over `warmup_steps`, then cosine from lr to lr * min_lr_ratio as `progress`
    (the larger of the step and time fractions used) goes from 0 to 1."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    floor = config.lr * config.min_lr_ratio
    return floor + 0.5 * (config.lr - floor) * (1 + math.cos(math.pi * min(1.0, progress)))


def hardware() -> str:
    """CPU model, threads in use and the torch version, for the model card."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {torch.get_num_threads()} torch threads of {os.cpu_count()} CPUs, torch {torch.__version__}"


class ScratchTrainer:
    """Runs one from-scratch training; `run()` emits events through `emit` and returns the Finished event."""

    def __init__(self, config: ScratchConfig, emit: Callable[[Event], None] = lambda event: None) -> None:
        self.config = config
        self.emit = emit
        self.metrics = Metrics()

    def run(self) -> Finished:
        """Read, tokenise, train, evaluate and save. KeyboardInterrupt stops early and still saves."""
        import torch
        from transformers import GPT2Config, GPT2LMHeadModel

        cfg = self.config
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        corpus = read_corpus(cfg.data, strip_gutenberg=cfg.strip_gutenberg)
        train_docs, val_docs = split_documents(corpus.documents, cfg.val_fraction, cfg.seed)
        tokenizer = train_bpe(train_docs, cfg.vocab_size) if cfg.tokenizer == "train" else load_tokenizer(cfg.tokenizer)
        train_ids, val_ids = encode(train_docs, tokenizer), encode(val_docs, tokenizer)
        if len(train_ids) < cfg.context + 2:
            raise ValueError(f"corpus too small: {len(train_ids)} training tokens for a context of {cfg.context}")
        val_ids = val_ids[: cfg.eval_tokens + 1]
        self.val_chars = len(tokenizer.decode(val_ids[1:].tolist(), skip_special_tokens=True))
        model_config = GPT2Config(
            vocab_size=len(tokenizer),
            n_positions=cfg.context,
            **PRESETS[cfg.preset],
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            bos_token_id=tokenizer.eos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        model = GPT2LMHeadModel(model_config)
        self.corpus, self.tokenizer, self.model = corpus, tokenizer, model
        self.train_tokens, self.val_tokens = len(train_ids), len(val_ids)
        self.emit(
            Started(
                output=str(cfg.output),
                preset=cfg.preset,
                parameters=model.num_parameters(),
                vocab_size=len(tokenizer),
                context=cfg.context,
                batch_size=cfg.batch_size,
                documents=len(corpus.documents),
                train_tokens=len(train_ids),
                val_tokens=len(val_ids),
                max_steps=cfg.max_steps,
                max_minutes=cfg.max_minutes,
                skipped=[[str(s.path), s.reason] for s in corpus.skipped],
            )
        )
        reason = self._train(model, train_ids, val_ids)
        m = self.metrics
        val = m.val
        finished = Finished(
            reason=reason,
            steps=m.step,
            tokens=m.tokens,
            elapsed_s=round(m.elapsed_s, 1),
            val_loss=val.val_loss if val else None,
            perplexity=val.perplexity if val else None,
            bits_per_char=val.bits_per_char if val else None,
            path=str(cfg.output),
        )
        self.emit(finished)
        return finished

    def _train(self, model: "GPT2LMHeadModel", train_ids: "torch.Tensor", val_ids: "torch.Tensor") -> str:
        import torch

        cfg, m = self.config, self.metrics
        decays = {n: p.dim() >= 2 and "wte" not in n and "wpe" not in n for n, p in model.named_parameters()}
        decay = [p for n, p in model.named_parameters() if decays[n]]
        no_decay = [p for n, p in model.named_parameters() if not decays[n]]
        optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=cfg.lr,
            betas=(0.9, 0.95),
        )
        generator = torch.Generator().manual_seed(cfg.seed)
        budget_s = cfg.max_minutes * 60 if cfg.max_minutes else None
        start = time.monotonic()
        window_loss, window_steps, window_start = 0.0, 0, start
        reason = "max_steps"
        lr = cfg.lr

        def report(lr: float) -> None:
            """Emit a Step for the steps since the last one."""
            nonlocal window_loss, window_steps, window_start
            now = time.monotonic()
            m.elapsed_s = now - start
            m.train_loss = window_loss / window_steps
            rate = window_steps * cfg.batch_size * cfg.context / max(now - window_start, 1e-9)
            eta = (cfg.max_steps - m.step) * m.elapsed_s / m.step
            if budget_s is not None:
                eta = min(eta, max(0.0, budget_s - m.elapsed_s))
            window_loss, window_steps, window_start = 0.0, 0, now
            self.emit(Step(m.step, round(m.train_loss, 4), lr, round(rate, 1), round(m.elapsed_s, 1), round(eta, 1)))

        model.train()
        try:
            while m.step < cfg.max_steps:
                m.elapsed_s = time.monotonic() - start
                if m.step and budget_s is not None and m.elapsed_s >= budget_s:
                    reason = "max_minutes"
                    break
                progress = max(m.step / cfg.max_steps, m.elapsed_s / budget_s if budget_s else 0.0)
                lr = lr_at(m.step, progress, cfg)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                starts = torch.randint(0, len(train_ids) - cfg.context - 1, (cfg.batch_size,), generator=generator)
                block = torch.stack([train_ids[s : s + cfg.context + 1] for s in starts.tolist()]).long()
                loss = self._loss(model, block)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                optimizer.step()
                m.step += 1
                m.tokens += block[:, 1:].numel()
                window_loss += loss.item()
                window_steps += 1
                if m.step % cfg.log_every == 0 or m.step == cfg.max_steps:
                    report(lr)
                if m.step % cfg.eval_every == 0 and m.step < cfg.max_steps:
                    self._checkpoint(model, val_ids)
                    model.train()
                    window_start = time.monotonic()
        except KeyboardInterrupt:
            reason = "interrupted"
        if window_steps:
            report(lr)
        m.elapsed_s = time.monotonic() - start
        if m.step and (m.val is None or m.val.step != m.step):
            self._checkpoint(model, val_ids)
        return reason

    @staticmethod
    def _loss(model: "GPT2LMHeadModel", block: "torch.Tensor", reduction: str = "mean") -> "torch.Tensor":
        """Next-token cross-entropy (nats) of a [batch, length + 1] block of token ids."""
        import torch.nn.functional as F

        logits = model(input_ids=block[:, :-1]).logits
        return F.cross_entropy(logits.flatten(0, 1).float(), block[:, 1:].flatten(), reduction=reduction)

    def _checkpoint(self, model: "GPT2LMHeadModel", val_ids: "torch.Tensor") -> None:
        """Evaluate, sample and save."""
        self._evaluate(model, val_ids)
        self._sample(model)
        self._save(model)

    def _evaluate(self, model: "GPT2LMHeadModel", val_ids: "torch.Tensor") -> None:
        import torch

        cfg, m = self.config, self.metrics
        model.eval()
        ctx, full = cfg.context, (len(val_ids) - 1) // cfg.context
        rows = [val_ids[i * ctx : (i + 1) * ctx + 1] for i in range(full)]
        batches = [torch.stack(rows[b : b + cfg.batch_size]) for b in range(0, full, cfg.batch_size)]
        if len(val_ids) - 1 > full * ctx:
            batches.append(val_ids[full * ctx :][None])
        total_nats, count = 0.0, 0
        with torch.no_grad():
            for batch in batches:
                total_nats += self._loss(model, batch.long(), reduction="sum").item()
                count += batch[:, 1:].numel()
        val_loss = total_nats / count
        m.val = Eval(
            step=m.step,
            val_loss=round(val_loss, 4),
            perplexity=round(math.exp(val_loss), 2),
            bits_per_char=round(total_nats / max(self.val_chars, 1) / math.log(2), 4),
        )
        self.emit(m.val)

    def _sample(self, model: "GPT2LMHeadModel") -> None:
        import torch

        cfg, m, tok = self.config, self.metrics, self.tokenizer
        model.eval()
        prompt = tok(cfg.sample_prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
        prompt = torch.cat([torch.tensor([[tok.eos_token_id]]), prompt], dim=1)[:, -cfg.context // 2 :]
        m.samples = []
        with torch.no_grad(), torch.random.fork_rng():
            for temperature in cfg.sample_temperatures:
                torch.manual_seed(cfg.seed)
                out = model.generate(
                    prompt,
                    attention_mask=torch.ones_like(prompt),
                    do_sample=True,
                    temperature=temperature,
                    top_k=0,
                    top_p=1.0,
                    max_new_tokens=min(cfg.sample_tokens, cfg.context - prompt.shape[1]),
                    pad_token_id=tok.eos_token_id,
                )
                text = tok.decode(out[0, prompt.shape[1] :], skip_special_tokens=True)
                sample = Sample(step=m.step, temperature=temperature, prompt=cfg.sample_prompt, text=text)
                m.samples.append(sample)
                self.emit(sample)

    def _save(self, model: "GPT2LMHeadModel") -> None:
        """Write the complete folder next to the output, then swap it into place."""
        from transformers import GenerationConfig

        cfg, m = self.config, self.metrics
        out = cfg.output
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.saving-{os.getpid()}")
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp)
        self.tokenizer.save_pretrained(tmp)
        eos = self.tokenizer.eos_token_id
        GenerationConfig(
            do_sample=True,
            temperature=0.8,
            top_k=40,
            top_p=0.95,
            repetition_penalty=1.1,
            max_new_tokens=min(100, cfg.context),
            bos_token_id=eos,
            eos_token_id=eos,
            pad_token_id=eos,
        ).save_pretrained(tmp)
        write_card(tmp / "README.md", self, hardware())
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
        self.emit(Saved(step=m.step, path=str(out)))
