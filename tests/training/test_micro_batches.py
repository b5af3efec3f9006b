"""Micro-batches that fit in memory: what one row keeps for the backward pass is measured on the real model, a step
is split into the fewest micro-batches whose rows fit in the room left, the update is the same as in one batch, and
a block that cannot fit at all is refused before training with a one-line message."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap
import weakref
from pathlib import Path

import pytest
import torch

from scribe.engine.threads import HUGE_PAGES_VARIABLE
from scribe.training.events import Event, Started, Step
from scribe.training.finetune import TooBigForMemory, available_bytes, load_base
from scribe.training.loss import NextTokenLoss
from scribe.training.lora import add_adapters, set_base_dropout
from scribe.training.micro_batches import (SHARE_OF_AVAILABLE, STEP_FACTOR, TIGHT_STEP_FACTOR, activation_bytes_per_row,
                                         bytes_in_use, fit_micro_batches, room_for_steps)
from scribe.training.trainer import TrainConfig, Trainer

CPU = torch.device("cpu")


def test_the_fewest_micro_batches_whose_rows_fit() -> None:
    row = 100
    peak = int(row * STEP_FACTOR)  # one row at the peak of a step
    assert fit_micro_batches(8, 1, 1, row, 8 * peak, context=64) == 1
    assert fit_micro_batches(8, 1, 1, row, 8 * peak - 1, context=64) == 2
    assert fit_micro_batches(8, 1, 1, row, 3 * peak, context=64) == 4  # 2 rows each: 8 rows split evenly
    assert fit_micro_batches(8, 1, 4, row, 8 * peak, context=64) == 4  # the writer's --grad-accum is a floor
    assert fit_micro_batches(8, 2, 1, row, peak, context=64) == 4  # each of 2 processes takes 1 row of each
    assert fit_micro_batches(6, 4, 2, row, peak, context=64) == 2  # no even split: the trainer's own check says so
    with pytest.raises(TooBigForMemory, match=r"^a training step needs about 0.4 GB for one block of 64 tokens beyond "
                                              r"the model, but 0 MB is left: lower --context, or allow more with "
                                              r"--max-memory$"):
        fit_micro_batches(8, 1, 1, 100_000_000, 100, context=64)


def test_with_freed_memory_given_back_a_row_needs_less_room() -> None:
    row = 1_000_000
    room = int(row * TIGHT_STEP_FACTOR)
    with pytest.raises(TooBigForMemory, match="needs about 4 MB for one block of 64 tokens"):
        fit_micro_batches(8, 1, 1, row, room, context=64)
    assert fit_micro_batches(8, 1, 1, row, room, context=64, step_factor=TIGHT_STEP_FACTOR) == 8


RESIDENT_AFTER_FREEING = """
    import ctypes
    import sys
    import torch
    from scribe.training.allocator import return_freed_memory_at_once
    from scribe.training.micro_batches import bytes_in_use
    if sys.argv[1] == "given-back":
        assert return_freed_memory_at_once()
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free(ctypes.c_void_p(libc.malloc(8 << 20)))  # 8 MB freed: glibc's own threshold grows past the blocks below
    blocks, kept = [], []
    for _ in range(200):  # 200 MB of 1 MB tensors, each followed by a smaller one that stays (as activations interleave)
        blocks.append(torch.ones(1 << 18))
        kept.append(torch.ones(1 << 14))  # 64 KB
    held = bytes_in_use(torch.device("cpu"))
    del blocks
    print((held - bytes_in_use(torch.device("cpu"))) // 1_000_000)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_memory_goes_straight_back_to_the_system() -> None:
    freed = {}
    environ = {k: v for k, v in os.environ.items() if k != HUGE_PAGES_VARIABLE}  # PyTorch's own 2 MB alignment off
    for mode in ("kept", "given-back"):
        run = subprocess.run([sys.executable, "-c", textwrap.dedent(RESIDENT_AFTER_FREEING), mode], capture_output=True,
                             text=True, timeout=120, check=True, env=environ)
        freed[mode] = int(run.stdout.split()[-1])
    assert freed["given-back"] > 180, freed  # MB the process gave back when the tensors went
    assert freed["kept"] < 50, freed


TIGHT_RUN = """
    import json, sys
    from scribe.training import micro_batches
    from scribe.training.events import Started
    from scribe.training.trainer import TrainConfig, Trainer
    micro_batches.fit_micro_batches.__kwdefaults__["step_factor"] = 1e12  # no step fits as memory is usually kept
    data, out = sys.argv[1:]
    config = TrainConfig(data=[data], output=out + "/model", job_dir=out + "/job", preset="tiny", tokenizer="char",
                         context=32, batch_size=4, max_steps=2, eval_every=100, log_every=1, eval_tokens=128,
                         sample_tokens=2, sample_temperatures=(1.0,), warmup_steps=1, threads=1)
    events = []
    Trainer(config, events.append).run()
    started = next(e for e in events if isinstance(e, Started))
    print(json.dumps([started.memory_returned, started.micro_batches, started.how_steps_run()]))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_step_that_fits_only_with_freed_memory_given_back_trains_so(shakespeare_text: str, tmp_path: Path) -> None:
    text_file = tmp_path / "slice.txt"
    text_file.write_text(shakespeare_text[:20_000])
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(TIGHT_RUN), str(text_file), str(tmp_path)],
                         capture_output=True, text=True, timeout=300, check=True)
    assert json.loads(run.stdout.splitlines()[-1]) == [True, 1, "freed memory given straight back to fit (slower steps)"]
    assert (tmp_path / "model" / "model.safetensors").is_file()


def test_the_room_is_the_limit_less_what_the_process_holds_and_the_optimiser_will() -> None:
    held = bytes_in_use(CPU)
    assert 100e6 < held < 20e9  # this process, torch loaded
    optimiser = 3 * 4 * 1_000_000  # float32 gradients and two moments of a million trainable parameters
    room = room_for_steps(CPU, 8_000_000_000, 1, 1_000_000)
    assert room == pytest.approx(8e9 - held - optimiser, abs=50e6)
    shared = room_for_steps(CPU, None, 2, 0)
    assert shared == pytest.approx(available_bytes(CPU) * SHARE_OF_AVAILABLE / 2, rel=0.05)


@pytest.fixture
def gpt2_base(tmp_path: Path, random_gpt2) -> Path:  # noqa: ANN001
    return random_gpt2(tmp_path / "base", n_layer=2, n_head=2, n_embd=32, n_positions=256, attn_pdrop=0.1)


def test_what_one_row_keeps_is_measured_on_the_model(gpt2_base: Path) -> None:
    lora = load_base(gpt2_base, CPU, torch.float32)
    set_base_dropout(lora, 0.0)
    lora = add_adapters(lora, r=2, alpha=4, dropout=0.05)
    lora.train()
    state = torch.get_rng_state()
    short, long = (activation_bytes_per_row(NextTokenLoss(lora), lora, context, CPU) for context in (64, 128))
    assert torch.equal(torch.get_rng_state(), state)  # training draws the same dropout masks as without the probe
    assert short > 64 * 32 * 4 * 2  # at least each layer's input, per token
    assert long == pytest.approx(2 * short, rel=0.02)  # fused attention: linear in the length

    full = load_base(gpt2_base, CPU, torch.float32)  # attention dropout on: the plain path keeps length x length
    full.train()
    short, long = (activation_bytes_per_row(NextTokenLoss(full), full, context, CPU) for context in (64, 128))
    assert long > 2.2 * short


def test_the_row_is_measured_as_training_runs_it_whatever_mode_the_model_is_in(gpt2_base: Path) -> None:
    model = load_base(gpt2_base, CPU, torch.float32)  # as loaded: evaluation mode, where dropout keeps no masks
    assert not model.training
    as_loaded = activation_bytes_per_row(NextTokenLoss(model), model, 64, CPU)
    assert not model.training  # the probe leaves the mode as it found it
    model.train()
    training = activation_bytes_per_row(NextTokenLoss(model), model, 64, CPU)
    assert as_loaded == training
    model.eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
    assert activation_bytes_per_row(NextTokenLoss(model), model, 64, CPU) < training  # the masks were counted


def test_the_measured_row_is_freed_when_the_probe_returns(gpt2_base: Path) -> None:
    model = load_base(gpt2_base, CPU, torch.float32)  # attention dropout on: softmax keeps its own output
    outputs: list[weakref.ref] = []

    def remember(_module: torch.nn.Module, _inputs: object, output: object) -> None:
        for tensor in output if isinstance(output, tuple) else (output,):
            if isinstance(tensor, torch.Tensor):
                outputs.append(weakref.ref(tensor))

    hooks = [module.register_forward_hook(remember) for module in model.modules()]
    activation_bytes_per_row(NextTokenLoss(model), model, 64, CPU)
    for hook in hooks:
        hook.remove()
    gc.collect()
    assert len(outputs) > 20
    assert [ref for ref in outputs if ref() is not None] == []  # nothing of the pass is kept (it was ~100 MB a call)


def config(data: Path, out: Path, **changes: object) -> TrainConfig:
    values: dict = dict(data=[str(data)], output=out / "model", job_dir=out / "job", preset="tiny", tokenizer="char",
                        context=32, batch_size=4, max_steps=3, eval_every=100, log_every=1, eval_tokens=128,
                        sample_tokens=2, sample_temperatures=(1.0,), warmup_steps=1, threads=1)
    values.update(changes)
    return TrainConfig(**values)


def test_micro_batches_give_the_update_of_one_batch(shakespeare_text: str, tmp_path: Path) -> None:
    text_file = tmp_path / "slice.txt"
    text_file.write_text(shakespeare_text[:20_000])
    runs: dict[int, list[Event]] = {}
    for count in (1, 4):
        runs[count] = []
        Trainer(config(text_file, tmp_path / str(count), grad_accum=count), runs[count].append).run()
    started = [next(e for e in events if isinstance(e, Started)) for events in runs.values()]
    assert [s.micro_batches for s in started] == [1, 4]
    losses = [[e.loss for e in events if isinstance(e, Step)] for events in runs.values()]
    assert losses[0] == pytest.approx(losses[1], abs=1e-4) and len(losses[0]) == 3
    card = (tmp_path / "4" / "model" / "README.md").read_text(encoding="utf-8")
    assert "batch 4 x 32 tokens in 4 micro-batches" in card


def test_a_block_that_cannot_fit_is_refused_before_training(shakespeare_text: str, tmp_path: Path) -> None:
    text_file = tmp_path / "slice.txt"
    text_file.write_text(shakespeare_text[:20_000])
    events: list[Event] = []
    with pytest.raises(TooBigForMemory, match=r"for one block of 32 tokens beyond the model, but 0 MB is left"):
        Trainer(config(text_file, tmp_path, max_memory_gb=0.001), events.append).run()
    assert not any(isinstance(e, (Started, Step)) for e in events)
    assert not (tmp_path / "model").exists()
