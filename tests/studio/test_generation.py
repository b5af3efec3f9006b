"""The generation controller with no UI: the tiny real GPT-2 streams on a plain thread (or this one), and every run
lands in the branch tree as continue (a new branch), regenerate (a sibling), extend (a child), branch-from (a sibling
starting with an alternative) and drafts (siblings, batched or not); a stop ends a run exactly once with what streamed;
a failure becomes an end."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from scribe.engine.base import Backend, StreamEnd, TokenStep
from scribe.sampling.params import SamplingParams
from scribe.studio.generation import Drained, GenerationController, RunSetup, Started
from scribe.studio.generation_runs import GenerationRun, collect

PROMPT = "Once upon a time"


@pytest.fixture(scope="module")
def backend(tiny_model_dir: Path) -> Iterator[Backend]:
    from scribe.engine.registry import load_model

    model = load_model(str(tiny_model_dir), device="cpu", dtype="float32")
    yield model
    model.close()


@pytest.fixture(scope="module")
def params(tiny_model_dir: Path) -> SamplingParams:
    """Eight tokens, end-of-text banned (so every run ends by its length), a fixed seed."""
    from transformers import AutoTokenizer

    eos = AutoTokenizer.from_pretrained(tiny_model_dir).eos_token_id
    return SamplingParams(max_new_tokens=8, seed=7, banned_tokens=str(eos))


@pytest.fixture
def setup(backend: Backend) -> RunSetup:
    return RunSetup.of(backend, weights_hash="ab" * 32, alternatives=3, prose=False, source="tiny")


class Held:
    """The real backend, its stream held after `after` tokens until `go` is set: a stop lands mid-stream, always."""

    def __init__(self, backend: Backend, after: int) -> None:
        self.backend, self.after = backend, after
        self.reached, self.go = threading.Event(), threading.Event()

    def stream(self, prompt: str, params: SamplingParams, **options: object) -> Iterator[TokenStep | StreamEnd]:
        for number, item in enumerate(self.backend.stream(prompt, params, **options), start=1):  # type: ignore[arg-type]
            yield item
            if number == self.after:
                self.reached.set()
                self.go.wait(timeout=30)


class Failing:
    """The real backend, its stream raising after `after` tokens (a disk or a driver failing mid-stream)."""

    def __init__(self, backend: Backend, after: int) -> None:
        self.backend, self.after = backend, after

    def stream(self, prompt: str, params: SamplingParams, **options: object) -> Iterator[TokenStep | StreamEnd]:
        for number, item in enumerate(self.backend.stream(prompt, params, **options), start=1):  # type: ignore[arg-type]
            yield item
            if number == self.after:
                raise OSError("the model file went away")


def run_here(controller: GenerationController, backend: Backend, started: Started) -> Drained:
    """Generate on this thread, then take everything: the drain that ends the run."""
    assert controller.state == "streaming"
    controller.generate(backend, started.work, threading.Lock())
    assert controller.state == "draining"
    drained = controller.drain()
    assert drained is not None and drained.end is not None
    assert controller.drain() is None, "a run ends once"
    return drained


def test_continue_records_the_branch_with_its_seed_and_tokens(backend: Backend, params: SamplingParams,
                                                              setup: RunSetup) -> None:
    controller = GenerationController()
    assert controller.state == "idle"
    started = controller.continue_text(PROMPT, params.replace(seed=None), setup)
    assert started.work == (started.run,) and started.run.node_id == started.node.id
    drained = run_here(controller, backend, started)
    assert controller.state == "idle" and not controller.generating and controller.run is started.run
    node, end = drained.recorded, drained.end
    assert node is not None and end is not None and node is controller.branches.current
    tree = controller.branches.tree
    assert tree.prompt_of(node.id) == PROMPT and tree.node(node.parent).is_root
    assert end.reason == "max_tokens" and node.stop_reason == "max_tokens" and node.text == end.text
    assert [t.text for t in node.tokens] == [s.text for s in started.run.steps] and len(node.tokens) == 8
    assert drained.items[-1] is end and [i for i in drained.items if isinstance(i, TokenStep)] == started.run.steps
    generation = node.generation
    assert generation is not None and generation.seed is not None, "a random seed is drawn and recorded"
    assert (generation.model, generation.weights_hash, generation.source) == (backend.info.name, "ab" * 32, "tiny")
    request = tree.replay_request(node.id)
    _, again = collect(backend, request.prompt, request.params, request.alternatives, threading.Lock())
    assert again.text == node.generated, "the record regenerates the branch"


def test_regenerate_grows_a_sibling_and_extend_a_child(backend: Backend, params: SamplingParams,
                                                       setup: RunSetup) -> None:
    controller = GenerationController()
    first = run_here(controller, backend, controller.continue_text(PROMPT, params, setup)).recorded
    assert first is not None
    started = controller.regenerate(params, setup)
    assert started is not None
    sibling = run_here(controller, backend, started).recorded
    tree = controller.branches.tree
    assert sibling is not None and sibling.parent == first.parent and tree.prompt_of(sibling.id) == PROMPT
    assert sibling.generation is not None and sibling.generation.seed == 8, "a fixed seed goes +1 per sibling"
    assert started.run.attempt == 1 and sibling.text != first.text
    started = controller.extend(params, setup)
    assert started is not None
    child = run_here(controller, backend, started).recorded
    assert child is not None and child.parent == sibling.id
    assert tree.prompt_of(child.id) == PROMPT + sibling.text and started.run.prompt == PROMPT + sibling.text
    assert [n.id for n in controller.branches.path()] == [sibling.id, child.id]


def test_nothing_to_regenerate_or_extend_before_a_continuation(params: SamplingParams, setup: RunSetup) -> None:
    controller = GenerationController()
    assert controller.regenerate(params, setup) is None and controller.extend(params, setup) is None
    assert len(controller.branches.tree) == 0


def test_a_branch_from_an_alternative_starts_with_it(backend: Backend, params: SamplingParams,
                                                     setup: RunSetup) -> None:
    controller = GenerationController()
    node = run_here(controller, backend, controller.continue_text(PROMPT, params, setup)).recorded
    assert node is not None
    started = controller.branch_from(node.id, 2, " zebra", params, setup)
    assert started is not None
    picked = run_here(controller, backend, started).recorded
    prefix = node.tokens[0].text + node.tokens[1].text + " zebra"
    assert picked is not None and picked.parent == node.parent and picked.prefix == prefix
    assert controller.branches.tree.prompt_of(picked.id) == PROMPT + prefix and picked.text.startswith(prefix)


def test_a_stop_mid_stream_ends_the_run_once_with_what_streamed(backend: Backend, params: SamplingParams,
                                                               setup: RunSetup) -> None:
    controller = GenerationController()
    held = Held(backend, after=3)
    started = controller.continue_text(PROMPT, params.replace(max_new_tokens=500), setup)
    worker = threading.Thread(target=controller.generate, args=(held, started.work, threading.Lock()))
    worker.start()
    assert held.reached.wait(timeout=30)
    assert controller.stop() and controller.state == "stopping"
    held.go.set()
    worker.join(timeout=30)
    ends = []
    while (drained := controller.drain()) is not None:
        ends += [drained] if drained.end is not None else []
    assert len(ends) == 1 and controller.state == "idle" and not controller.stop()
    end, node = ends[0].end, ends[0].recorded
    assert end is not None and end.reason == "cancelled" and end.tokens == 3
    assert node is not None and node.stop_reason == "cancelled" and node.text == end.text
    assert [t.text for t in node.tokens] == [s.text for s in started.run.steps] and len(node.tokens) == 3


def test_cancel_records_what_was_taken_and_never_reads_the_late_end(backend: Backend, params: SamplingParams,
                                                                   setup: RunSetup) -> None:
    controller = GenerationController()
    held = Held(backend, after=4)
    started = controller.continue_text(PROMPT, params.replace(max_new_tokens=500), setup)
    worker = threading.Thread(target=controller.generate, args=(held, started.work, threading.Lock()))
    worker.start()
    assert held.reached.wait(timeout=30)
    taken = controller.drain()
    assert taken is not None and taken.end is None and len(started.run.steps) == 4
    node = controller.cancel()
    assert node is not None and node.stop_reason == "cancelled" and node.text == started.run.text
    assert len(node.tokens) == 4 and controller.state == "idle" and controller.cancel() is None
    held.go.set()
    worker.join(timeout=30)
    assert started.run.buffer.ended and controller.drain() is None, "the worker's own end is never taken"
    assert node.stop_reason == "cancelled" and len(node.tokens) == 4


def test_a_failure_mid_stream_becomes_an_end_with_the_text_so_far(backend: Backend, params: SamplingParams,
                                                                  setup: RunSetup) -> None:
    controller = GenerationController()
    started = controller.continue_text(PROMPT, params, setup)
    drained = run_here(controller, Failing(backend, after=3), started)  # type: ignore[arg-type]
    end, node = drained.end, drained.recorded
    assert end is not None and end.reason == "error" and end.error == "OSError: the model file went away"
    assert end.tokens == 3 and node is not None and node.stop_reason == "error"
    assert node.text == end.text == started.run.text and len(node.tokens) == 3


def test_a_failing_prompt_assembly_ends_the_run_with_an_error(backend: Backend, params: SamplingParams,
                                                             setup: RunSetup) -> None:
    def assemble(story: str, params: SamplingParams) -> str:
        raise RuntimeError("the server that counts tokens is gone")

    controller = GenerationController()
    started = controller.continue_text(PROMPT, params, setup)
    controller.generate(backend, started.work, threading.Lock(), assemble)
    drained = controller.drain()
    assert drained is not None and drained.end is not None and drained.end.reason == "error"
    assert drained.end.error == "RuntimeError: the server that counts tokens is gone"
    assert drained.recorded is not None and drained.recorded.stop_reason == "error" and drained.recorded.text == ""


@pytest.mark.parametrize("batch", [False, True], ids=["one-after-another", "batched"])
def test_drafts_are_siblings_with_their_own_seeds(backend: Backend, params: SamplingParams, setup: RunSetup,
                                                  batch: bool) -> None:
    assert setup.batch, "the tiny GPT-2 decodes drafts as one batch"
    setup = dataclasses.replace(setup, batch=batch)
    controller = GenerationController()
    started: Started | None = controller.drafts(PROMPT, params.replace(seed=40), 3, setup)
    assert started is not None and len(started.work) == (3 if batch else 1) and controller.queued == 2
    recorded = []
    while started is not None:
        controller.generate(backend, started.work, threading.Lock())
        drained = controller.drain()
        assert drained is not None and drained.end is not None
        recorded.append(drained.recorded)
        started = drained.next
        if started is not None:
            assert started.work == (() if batch else (started.run,)), "a batch streams every draft in one go"
    tree = controller.branches.tree
    root = tree.roots()[0]
    assert recorded == tree.children(root.id) and controller.queued == 0 and controller.state == "idle"
    assert [n.generation.seed for n in recorded] == [40, 41, 42]
    assert all(n.stop_reason == "max_tokens" and len(n.tokens) == 8 for n in recorded)
    assert len({n.text for n in recorded}) == 3 and controller.branches.current is recorded[-1]
    for node in recorded:  # each draft is the text its seed gives alone
        _, alone = collect(backend, PROMPT, params.replace(seed=node.generation.seed), 3, threading.Lock())
        assert node.text == alone.text


def test_stopping_a_draft_drops_the_ones_after_it(backend: Backend, params: SamplingParams, setup: RunSetup) -> None:
    controller = GenerationController()
    started = controller.drafts(PROMPT, params, 3, setup)
    assert controller.stop() and controller.state == "stopping"
    controller.generate(backend, started.work, threading.Lock())
    drained = controller.drain()
    assert drained is not None and drained.end is not None and drained.end.reason == "cancelled" and drained.next is None
    assert controller.queued == 0 and len(controller.branches.tree.children(controller.branches.anchor)) == 1


def test_a_run_outside_the_tree_is_drained_but_not_recorded(backend: Backend, params: SamplingParams) -> None:
    controller = GenerationController()
    run = GenerationRun(prompt=PROMPT, params=params, alternatives=0)
    controller.watch(run)
    assert controller.state == "streaming" and controller.run is run
    controller.generate(backend, (run,), threading.Lock())
    drained = controller.drain()
    assert drained is not None and drained.end is not None and drained.recorded is None and len(controller.branches.tree) == 0
    assert run.end is drained.end and run.text == drained.end.text


def test_a_stream_run_elsewhere_is_added_as_a_finished_branch(backend: Backend, params: SamplingParams,
                                                              setup: RunSetup) -> None:
    steps, end = collect(backend, PROMPT, params, 3, threading.Lock())
    controller = GenerationController()
    node = controller.add_finished(PROMPT, params, steps, end, setup)
    assert controller.branches.current is node and controller.state == "idle" and controller.run is None
    assert node.text == end.text and node.stop_reason == end.reason and len(node.tokens) == len(steps) == 8
    assert node.generation is not None and node.generation.seed == 7
    assert controller.branches.tree.prompt_of(node.id) == PROMPT
