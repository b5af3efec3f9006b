"""The generation controller: the current run, its state, and how its stream lands in the branch tree. Headless: the
TUI drives it (`scribe.ui.branching`), and so can any other front end or a test, with no UI at all.

The current run is in one of four states:
- "idle": nothing is being generated (a finished or stopped run may still be current: the one shown);
- "streaming": a worker is streaming the run into its buffer;
- "draining": the stream has ended and its last items wait in the buffer to be taken;
- "stopping": a stop was asked; the stream ends within one token, and its end comes through `drain`.

Threads: `generate` runs on a worker thread and only fills the runs' buffers; every other method runs on the one
thread that shows the run (the TUI's UI thread, a test's main thread). `drain`, called there about 30 times a second,
moves streamed tokens into the run and, at the stream's end, records the node (text, tokens, stop reason) and starts
the next draft. A run ends exactly once: by its own end, taken by `drain`, or by `cancel`, which records what was
taken so far as "cancelled" and never reads the late end its worker still pushes.

Every continuation is a node of the branch tree: `continue_text` anchors at the text and grows a new branch,
`regenerate` a sibling (same prompt; a fixed seed goes +1 per sibling), `extend` a child, `branch_from` a sibling that
starts with an alternative token, `drafts` several siblings (one batched decode where the backend can). Seeds left
random by the settings are drawn here, so every node records the seed it was made with and can be replayed exactly.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from scribe.engine.base import Backend, Capability, StreamEnd, TokenStep
from scribe.sampling.params import SamplingParams
from scribe.sampling.processors import processor_order
from scribe.studio.branch_session import BranchSession
from scribe.studio.branches import Generation, Node, TokenRecord
from scribe.studio.generation_runs import GenerationRun, fail_run, stream_into, stream_many_into

RunState = Literal["idle", "streaming", "draining", "stopping"]

SEED_LIMIT = 2**63
"""Seeds wrap around here (the largest SamplingParams accepts, plus one)."""
DRAWN_SEEDS = 2**31
"""Seeds drawn for the writer are below this: enough variety, and short enough to read and type."""


def draw_seed() -> int:
    """A fresh random seed."""
    return secrets.randbelow(DRAWN_SEEDS)


def with_seed(params: SamplingParams) -> SamplingParams:
    """`params` with a seed: the writer's, or one drawn now (so the node records the seed actually used)."""
    return params if params.seed is not None else params.replace(seed=draw_seed())


@dataclass(frozen=True)
class RunSetup:
    """What runs are generated with besides their sampling settings: the model and the studio's settings."""

    model: str
    """The loaded model's name."""
    backend: str
    """The kind of backend serving it."""
    weights_hash: str | None
    alternatives: int
    """Alternatives kept per token."""
    prose: bool
    """Join the line breaks inside paragraphs (`scribe.studio.prose`)."""
    source: str = ""
    """The model setting that loads this model again (a name or a folder)."""
    batch: bool = False
    """The backend decodes drafts as one batch (Capability.BATCH)."""

    @classmethod
    def of(cls, backend: Backend, *, weights_hash: str | None, alternatives: int, prose: bool,
           source: str = "") -> RunSetup:
        """The setup of runs on a loaded `backend`."""
        info = backend.info
        return cls(info.name, info.backend, weights_hash, alternatives, prose, source,
                   backend.supports(Capability.BATCH))

    def record(self, params: SamplingParams) -> Generation:
        """The generation record of a node made with `params` (which carry the seed used)."""
        return Generation(model=self.model, weights_hash=self.weights_hash, params=params,
                          processor_order=processor_order(params), alternatives=self.alternatives,
                          backend=self.backend, prose=self.prose, source=self.source)


@dataclass(frozen=True)
class Started:
    """A run that became the current one, the node it fills, and the runs a worker must stream for it."""

    run: GenerationRun
    node: Node
    work: tuple[GenerationRun, ...]
    """What to hand to `generate` on a worker: this run, or every draft of a batch, or nothing when the run is a
    draft its batch streams already."""


@dataclass(frozen=True)
class Drained:
    """What one `drain` took from the current run's buffer, and what followed from it."""

    items: list[TokenStep | StreamEnd]
    """The items in stream order (the end last, when it came)."""
    end: StreamEnd | None = None
    """The stream's end, when it came: the run is then finished."""
    recorded: Node | None = None
    """The node the end was recorded in (None for a run outside the tree, or a node deleted meanwhile)."""
    next: Started | None = None
    """The next draft, now current, when one was waiting."""


@dataclass(frozen=True)
class _Draft:
    """A draft still to show: its parent, settings with their seed, attempt, setup, and its run when the first
    draft's batch streams it already (None: it is generated when its turn comes)."""

    parent: str
    params: SamplingParams
    attempt: int
    setup: RunSetup
    run: GenerationRun | None


class GenerationController:
    """The current run of a document's branch tree, from its start to its record (see the module docstring)."""

    def __init__(self, branches: BranchSession | None = None) -> None:
        self.branches = branches or BranchSession()
        """The tree and the position in it that every run grows."""
        self.run: GenerationRun | None = None
        """The run being generated or shown (None when there is none)."""
        self._active = False
        self._drafts: list[_Draft] = []

    @property
    def state(self) -> RunState:
        """Where the current run is (module docstring)."""
        run = self.run
        if run is None or not self._active:
            return "idle"
        if run.cancel.is_set():
            return "stopping"
        return "draining" if run.buffer.ended else "streaming"

    @property
    def generating(self) -> bool:
        """True until the current run's end is taken (or it is cancelled)."""
        return self._active

    @property
    def queued(self) -> int:
        """Drafts still to show after the current one."""
        return len(self._drafts)

    # --- starting runs

    def continue_text(self, prompt: str, params: SamplingParams, setup: RunSetup) -> Started:
        """A new branch continuing `prompt` (anchored at the node whose full text it is, or a new root)."""
        self.cancel()
        anchor = self.branches.begin(prompt)
        return self._grow(anchor.id, with_seed(params), setup)

    def drafts(self, prompt: str, params: SamplingParams, count: int, setup: RunSetup) -> Started:
        """`count` continuations of `prompt`: siblings with their own seeds (a fixed seed goes +1 per draft), decoded
        as one batch where the backend can, else one after another. The first is current now; `drain` makes each
        next one current when the one before it ends."""
        self.cancel()
        anchor = self.branches.begin(prompt)
        count = max(count, 1)
        seeds = ([(params.seed + n) % SEED_LIMIT for n in range(count)] if params.seed is not None
                 else [draw_seed() for _ in range(count)])
        first, *rest = [params.replace(seed=seed) for seed in seeds]
        if not rest or not setup.batch:
            started = self._grow(anchor.id, first, setup)
            self._drafts = [_Draft(anchor.id, later, number, setup, None) for number, later in enumerate(rest, start=1)]
            return started
        runs = [GenerationRun(prompt="", params=settings, alternatives=setup.alternatives, attempt=number,
                              prose=setup.prose)  # the prompt is the first draft's node's (`_grow`)
                for number, settings in enumerate([first, *rest])]
        for run in runs[1:]:
            run.cancel = runs[0].cancel  # stopping the shown draft stops the whole batch
        started = self._grow(anchor.id, first, setup, run=runs[0], batch=runs)
        self._drafts = [_Draft(anchor.id, run.params, run.attempt, setup, run) for run in runs[1:]]
        return started

    def regenerate(self, params: SamplingParams, setup: RunSetup) -> Started | None:
        """Another continuation of the shown branch's prompt: a sibling (a fixed seed goes +1 per sibling). None when
        no branch is shown."""
        current = self.branches.current
        if current is None or current.parent is None:
            return None
        self.cancel()
        attempt = len(self.branches.tree.siblings(current.id))
        params = params.replace(seed=(params.seed + attempt) % SEED_LIMIT) if params.seed is not None else with_seed(params)
        return self._grow(current.parent, params, setup, prefix=current.prefix, attempt=attempt)

    def extend(self, params: SamplingParams, setup: RunSetup) -> Started | None:
        """A continuation of the shown branch: a child. None when no branch is shown."""
        current = self.branches.current
        if current is None:
            return None
        self.cancel()
        return self._grow(current.id, with_seed(params), setup)

    def branch_from(self, node_id: str, index: int, alternative: str, params: SamplingParams,
                    setup: RunSetup) -> Started | None:
        """A sibling of node `node_id` that starts with its text up to token `index` and then `alternative` (a token
        picked in the inspector). None for a root."""
        self.cancel()  # a node still streaming records its tokens first
        node = self.branches.tree.node(node_id)
        if node.parent is None:
            return None
        prefix = node.prefix + "".join(token.text for token in node.tokens[:index]) + alternative
        return self._grow(node.parent, with_seed(params), setup, prefix=prefix)

    def add_finished(self, prompt: str, params: SamplingParams, steps: Sequence[TokenStep], end: StreamEnd,
                     setup: RunSetup) -> Node:
        """A stream run elsewhere (compare) added as a finished branch of `prompt`; it is the node shown now."""
        anchor = self.branches.begin(prompt)
        node = self.branches.grow(anchor.id, setup.record(params))
        return self.branches.tree.finish(node.id, end.text, tuple(TokenRecord.from_step(s) for s in steps), end.reason)

    def watch(self, run: GenerationRun) -> None:
        """Make `run`, which has no node, the current run, streaming (an instruct action's answer); `drain` takes its
        items like any other's."""
        self.cancel()
        self.run, self._active = run, True

    def _grow(self, parent: str, params: SamplingParams, setup: RunSetup, *, prefix: str = "", attempt: int = 0,
              run: GenerationRun | None = None, batch: list[GenerationRun] | None = None) -> Started:
        """A new node under `parent`, filled by a new run, or by `run`: the first of the drafts `batch` (which streams
        them all), or a draft of a batch streaming already."""
        node = self.branches.grow(parent, setup.record(params), prefix=prefix)
        prompt = self.branches.tree.prompt_of(node.id)
        work: tuple[GenerationRun, ...] = ()
        if run is None:
            run = GenerationRun(prompt=prompt, params=params, alternatives=setup.alternatives, attempt=attempt,
                                prose=setup.prose)
            work = (run,)
        elif batch:
            for draft in batch:
                draft.prompt = prompt
            work = tuple(batch)
        run.node_id = node.id
        self.run, self._active = run, True
        return Started(run, node, work)

    # --- the worker's side

    def generate(self, backend: Backend, work: Sequence[GenerationRun], backend_lock: threading.Lock,
                 assemble: Callable[[str, SamplingParams], str] | None = None) -> None:
        """Stream a `Started.work` into its runs' buffers (on a worker thread; touches nothing but those runs): one run
        alone, or drafts as one batch. `assemble(story, params)` gives the prompt sent for the story (the context
        tools); a failure there ends every run with an error."""
        if not work:
            return
        first = work[0]
        try:
            prompt = assemble(first.prompt, first.params) if assemble is not None else first.prompt
        except Exception as exc:  # the contract: every run ends, with the reason
            for run in work:
                fail_run(run, exc)
            return
        for run in work:
            run.prompt = prompt
        if len(work) == 1:
            stream_into(backend, first, backend_lock)
        else:
            stream_many_into(backend, list(work), backend_lock)

    # --- the showing thread's side

    def drain(self) -> Drained | None:
        """Take what the current run streamed since the last call (None when nothing came, or nothing is generating);
        at its end, record its node and make the next draft current."""
        run = self.run
        if run is None or not self._active:
            return None
        items = run.buffer.drain()
        if not items:
            return None
        end: StreamEnd | None = None
        for item in items:
            if isinstance(item, TokenStep):
                run.steps.append(item)
            else:
                end = item
        if end is None:
            return Drained(items)
        self._active = False
        run.end = end
        stopped = end.reason in ("cancelled", "error") or run.cancel.is_set()
        drafts, self._drafts = ([] if stopped else self._drafts), []  # a draft of a batch may have ended before a stop
        recorded = self._record(run, end.text, end.reason)
        following = None
        if drafts and drafts[0].parent in self.branches.tree:
            draft, *self._drafts = drafts
            following = self._grow(draft.parent, draft.params, draft.setup, attempt=draft.attempt, run=draft.run)
        return Drained(items, end, recorded, following)

    def stop(self) -> bool:
        """Ask the current stream to stop (state "stopping"): its end, reason "cancelled" with the text so far, comes
        through `drain`, and the drafts after it are dropped then. False when nothing is generating."""
        if self.run is None or not self._active:
            return False
        self.run.cancel.set()
        return True

    def cancel(self) -> Node | None:
        """Stop now, without waiting for the stream's end: drop the drafts still to come, cancel the stream (its
        worker stops within one token; its end is never read) and record in its node what was taken so far, as
        "cancelled". Returns that node; None when nothing was generating or the run has no node."""
        self._drafts = []
        run = self.run
        if run is None or not self._active:
            return None
        run.cancel.set()
        self._active = False
        return self._record(run, run.text, "cancelled")

    def clear(self) -> None:
        """No run is current any more (another branch is shown, or none); one still generating is cancelled first."""
        self.cancel()
        self.run = None

    def _record(self, run: GenerationRun, text: str, reason: str) -> Node | None:
        """Write what `run` produced into its node (gone when the writer deleted it meanwhile)."""
        if run.node_id is None or run.node_id not in self.branches.tree:
            return None
        tokens = tuple(TokenRecord.from_step(step) for step in run.steps)
        return self.branches.tree.finish(run.node_id, text, tokens, reason)
