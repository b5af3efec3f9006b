"""How many micro-batches a training step is split into, so that it fits in memory.

What a step needs beyond the weights and the optimiser grows with the rows of a micro-batch: the tensors the forward
pass keeps for the backward pass (activations), the gradients the backward pass forms while it frees them, and the
memory the allocator keeps after they are freed. A LoRA fine-tune of GPT-2-124M on a CPU keeps ~90 MB for each
row of 128 tokens; with a batch of 32 x 256 tokens that is ~6 GB of activations alone. So the trainer measures what
one row keeps (`activation_bytes_per_row`: one training forward pass of one row, counting the tensors autograd saves
that are not weights) and splits each step into the fewest micro-batches, at least the writer's `--grad-accum`, whose
rows fit in the room left (`fit_micro_batches`): the writer's `--max-memory` less what the process holds already, or,
without it, most of the memory still available. The update is the same either way: each micro-batch's mean loss is
divided by their number, and the rows of a step are the same blocks. When even one row a micro-batch does not fit,
a CPU run has glibc give freed memory straight back (`allocator.return_freed_memory_at_once`), which brings a step's
peak from ~4 to ~1.6 times a row's activations, and fits the rows against that (`TIGHT_STEP_FACTOR`). A LoRA run in
bfloat16 (`scribe.training.precision`) holds half the base and keeps two thirds as much a row (GPT-2-124M, 128 tokens:
75 against 114 MB), so it comes to that far less often.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from scribe.training.allocator import release_free_memory
from scribe.training.finetune import TooBigForMemory, available_bytes, memory_size

if TYPE_CHECKING:
    import torch

STEP_FACTOR = 4.0
"""A step's peak above the process's size before training, per byte of activations one row keeps: the activations,
the gradients the backward pass forms, and what the allocator keeps of freed memory (measured, LoRA on GPT-2-124M,
2-core Intel Xeon, rows of 128 tokens keeping 89 MB each: one, two and four rows a micro-batch peaked 3.9, 3.7 and
3.5 times that above the process's size after the measurement)."""
TIGHT_STEP_FACTOR = 2.0
"""The same when freed memory goes straight back to the system (`allocator.return_freed_memory_at_once`): measured
1.6 (LoRA on GPT-2-124M, rows of 128 tokens keeping 89 MB, 2-core AMD EPYC: 976 MB before the first step, 1,118 MB
at the peak), rounded up. The live tensors at that peak were 116 MB; the rest of the usual factor is freed memory that
glibc's heaps keep."""
SHARE_OF_AVAILABLE = 0.8
"""Of the memory still available, the part a step may use when the writer set no limit."""


def activation_bytes_per_row(loss: Callable[["torch.Tensor"], "torch.Tensor"], model: "torch.nn.Module",
                             context: int, device: "torch.device") -> int:
    """Bytes the training forward pass `loss(block)` of one row of `context` tokens keeps for its backward pass, the
    model's weights not counted. The pass runs in training mode (dropout's masks count; the model's mode is restored
    after), the random state is left as it was (dropout draws nothing that training will see), and the memory the
    pass freed goes back to the system where the C library can (glibc's `malloc_trim`), so that what the process
    holds afterwards is what training starts from."""
    import torch

    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    kept: dict[int, int] = {}

    def count(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in weights:
            kept[storage.data_ptr()] = max(kept.get(storage.data_ptr(), 0), storage.nbytes())
        return tensor.detach()  # the tensor itself would tie a saved output to its own node: a cycle never freed

    block = torch.zeros((1, context + 1), dtype=torch.long, device=device)
    training = model.training
    model.train()
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            with torch.autograd.graph.saved_tensors_hooks(count, lambda tensor: tensor):
                loss(block)
    finally:
        model.train(training)
    release_free_memory()
    return sum(kept.values())


def fit_micro_batches(rows: int, processes: int, at_least: int, row_bytes: int, room: int, *,
                      context: int, step_factor: float = STEP_FACTOR) -> int:
    """The fewest micro-batches, at least `at_least`, that split each process's share of a `rows`-row batch into
    micro-batches needing at most `room` bytes each (`row_bytes` kept per row, `step_factor` times that at the peak).
    Raises TooBigForMemory when even one row a micro-batch does not fit. (When no count splits the batch evenly
    among the processes, `at_least`: the trainer's own check then says so.)"""
    counts = [m for m in range(at_least, rows + 1) if rows % m == 0 and (rows // m) % processes == 0]
    if not counts:
        return at_least
    for micro_batches in counts:
        if rows // micro_batches // processes * row_bytes * step_factor <= room:
            return micro_batches
    need = int(row_bytes * step_factor)
    raise TooBigForMemory(f"a training step needs about {memory_size(need)} for one block of {context} tokens beyond the model, "
                          f"but {memory_size(max(room, 0))} is left: lower --context, or allow more with --max-memory")


def room_for_steps(device: "torch.device", limit: int | None, processes: int, trainable: int) -> int:
    """Bytes a step may use: `limit` (the writer's --max-memory) less what this process holds now; without a limit,
    `SHARE_OF_AVAILABLE` of the memory still available, shared by the processes of the run. Less, either way, what
    the first step adds for good: float32 gradients and AdamW's two moments of the `trainable` parameters."""
    optimiser = 3 * 4 * trainable
    if limit is not None:
        return limit - bytes_in_use(device) - optimiser
    return int(available_bytes(device) * SHARE_OF_AVAILABLE) // processes - optimiser


def bytes_in_use(device: "torch.device") -> int:
    """What this process holds: on a GPU the memory PyTorch allocated there, else the resident size."""
    import os

    import torch

    if device.type == "cuda":
        return int(torch.cuda.memory_allocated(device))
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:  # no /proc (macOS): nothing counted
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")
