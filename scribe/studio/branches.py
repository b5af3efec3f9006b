"""The branch tree: every continuation is a node under the text it continued, saved beside the document.

A root holds the text a continuation started from (the writer's text before the cursor). Each other node holds its
own text: an optional `prefix` (an alternative token the writer picked, with the tokens before it) followed by what
the model generated. A node's full text is its parent's full text plus its own, so the prompt that produced a node is
`prompt_of(node)`. Regenerating makes a sibling (same parent, same prompt); continuing a continuation makes a child.

An instruct action's answer (`scribe.engine.actions`: rewrite, expand, ...) is a node too, with an `ActionRecord`: its
parent is the text before the passage it rewrites, and accepting it replaces the passage (its full text is the
document as it reads once accepted). Its prompt is the action's chat messages, not `prompt_of`; running the action
again gives a sibling.

Each generated node keeps a `Generation` record (model, weights hash, every sampling setting, the processor order and
the seed actually used), so `replay_request` rebuilds the exact request that regenerates it.

The tree lives in a sidecar file beside the document (`story.txt` -> `story.txt.scribe.json`), written atomically.
Version 2 keeps every node's tokens in compact binary columns (`scribe.studio.token_columns`); version 1, which wrote
them as one JSON list per token, is still read. Nothing here imports textual or torch.
"""

from __future__ import annotations

import dataclasses
import json
import time
from lzma import LZMAError
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scribe.engine.base import Alternative, TokenStep
from scribe.sampling.params import SamplingParams
from scribe.studio import token_columns
from scribe.studio.document import atomic_write

FORMAT_VERSION = 2
SIDECAR_SUFFIX = ".scribe.json"


class BranchFileError(Exception):
    """A sidecar file that cannot be read; the message names the file."""


def sidecar_path(document: Path) -> Path:
    """Where the tree of `document` is kept: `<name>.scribe.json` in the same folder."""
    return document.with_name(document.name + SIDECAR_SUFFIX)


def stored(p: float) -> float:
    """A probability as the sidecar keeps it (4 significant digits; what the studio shows of it is unchanged)."""
    return token_columns.dequantise(token_columns.quantise(p))


@dataclass(frozen=True)
class TokenRecord:
    """One generated token and what the sampler thought of it (a stored `TokenStep` without the timing)."""

    token_id: int
    text: str
    raw_prob: float
    final_prob: float
    alternatives: tuple[Alternative, ...] = ()

    @classmethod
    def from_step(cls, step: TokenStep) -> "TokenRecord":
        """The record of a streamed token."""
        return cls(step.token_id, step.text, step.raw_prob, step.final_prob, step.alternatives)

    def to_list(self) -> list[Any]:
        """A readable JSON form (exports, and version 1 sidecars):
        [id, text, raw, final, [[id, text, raw, final, removed_by], ...]], probabilities as the sidecar keeps them."""
        alternatives = [[a.token_id, a.text, stored(a.raw_prob), stored(a.final_prob), a.removed_by] for a in self.alternatives]
        return [self.token_id, self.text, stored(self.raw_prob), stored(self.final_prob), alternatives]

    @classmethod
    def from_list(cls, data: list[Any]) -> "TokenRecord":
        """Read the form `to_list` writes."""
        token_id, text, raw, final, alternatives = data
        return cls(int(token_id), str(text), float(raw), float(final),
                   tuple(Alternative(int(a[0]), str(a[1]), float(a[2]), float(a[3]), a[4]) for a in alternatives))


@dataclass(frozen=True)
class Generation:
    """How a node was generated: enough to regenerate it exactly."""

    model: str
    weights_hash: str | None
    """sha256 of the model's weight file(s), None when unknown (a remote model)."""
    params: SamplingParams
    """Every sampling setting, with the seed actually used."""
    processor_order: tuple[str, ...]
    alternatives: int
    backend: str = ""
    prose: bool = False
    """Whether the continuation's line breaks inside paragraphs were joined (`scribe.studio.prose`)."""
    source: str = ""
    """The studio's model setting when it was generated (a name or a folder): what loads that model again."""

    @property
    def seed(self) -> int | None:
        """The seed the sampler used."""
        return self.params.seed

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {"model": self.model, "weights_hash": self.weights_hash, "backend": self.backend,
                "params": self.params.to_dict(), "processor_order": list(self.processor_order),
                "alternatives": self.alternatives, "prose": self.prose, "source": self.source}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Generation":
        """Read the form `to_dict` writes."""
        return cls(model=data["model"], weights_hash=data.get("weights_hash"), backend=data.get("backend", ""),
                   params=SamplingParams.from_dict(data["params"]), processor_order=tuple(data["processor_order"]),
                   alternatives=int(data.get("alternatives", 5)), prose=bool(data.get("prose", False)),
                   source=str(data.get("source", "")))


@dataclass(frozen=True)
class ActionRecord:
    """What an instruct action's answer answers: the action, what the writer typed, and the passage it rewrites."""

    name: str
    """The action's name in actions.toml ("rewrite", "custom", ...)."""
    label: str
    instruction: str
    """What the writer typed (the custom action), else ""."""
    start: int
    """Where the passage started in the document (characters) when the action ran."""
    end: int
    passage: str
    """The passage the answer replaces once accepted."""

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ActionRecord":
        """Read the form `to_dict` writes."""
        return cls(name=str(data["name"]), label=str(data.get("label", data["name"])),
                   instruction=str(data.get("instruction", "")), start=int(data["start"]), end=int(data["end"]),
                   passage=str(data["passage"]))


@dataclass
class Node:
    """A root (the text continued) or a continuation."""

    id: str
    parent: str | None
    text: str
    """A root's text, or a continuation's own text (prefix + generated)."""
    prefix: str = ""
    """Text the writer forced before the generated part (an alternative token chosen in the inspector)."""
    tokens: tuple[TokenRecord, ...] = ()
    generation: Generation | None = None
    stop_reason: str = ""
    """Why generation ended ("" while generating or for a root)."""
    created: float = field(default_factory=time.time)
    accepted: bool = False
    """True once the node was written into the document."""
    action: ActionRecord | None = None
    """Set on an instruct action's answer: it replaces `action.passage` instead of continuing the parent's text."""

    @property
    def is_root(self) -> bool:
        """True for the text a tree grows from."""
        return self.parent is None

    @property
    def generated(self) -> str:
        """The part the model wrote."""
        return self.text[len(self.prefix) :]

    def to_dict(self, *, tokens: bool = True) -> dict[str, Any]:
        """Plain values for JSON; the tokens as one list each unless `tokens` is False (the tree packs them)."""
        data: dict[str, Any] = {"id": self.id, "parent": self.parent, "text": self.text, "created": self.created}
        if not self.is_root:
            data.update(prefix=self.prefix, stop_reason=self.stop_reason, accepted=self.accepted,
                        generation=self.generation.to_dict() if self.generation else None)
            if self.action is not None:
                data["action"] = self.action.to_dict()
            if tokens:
                data["tokens"] = [t.to_list() for t in self.tokens]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], tokens: list[Any] | None = None) -> "Node":
        """Read the form `to_dict` writes; `tokens` (unpacked by the tree) replaces the node's own token lists."""
        generation, action = data.get("generation"), data.get("action")
        return cls(id=data["id"], parent=data.get("parent"), text=data["text"], prefix=data.get("prefix", ""),
                   tokens=(tuple(TokenRecord.from_list(t) for t in data.get("tokens", ())) if tokens is None
                           else tuple(TokenRecord(*t) for t in tokens)),
                   generation=Generation.from_dict(generation) if generation else None,
                   stop_reason=data.get("stop_reason", ""), created=float(data.get("created", 0.0)),
                   accepted=bool(data.get("accepted", False)),
                   action=ActionRecord.from_dict(action) if action else None)


@dataclass(frozen=True)
class ReplayRequest:
    """The stream call that regenerates a node."""

    prompt: str
    params: SamplingParams
    alternatives: int
    prose: bool = False


class BranchTree:
    """Every continuation of a document, as a forest of roots and their descendants (in creation order)."""

    def __init__(self) -> None:
        self._nodes: dict[str, Node] = {}
        self._children: dict[str | None, list[str]] = {}
        self.current: str | None = None
        """The node last shown (restored on reopen)."""

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._nodes

    def __iter__(self) -> Iterator[Node]:
        return iter(self._nodes.values())

    def node(self, node_id: str) -> Node:
        """The node with this id (KeyError when unknown)."""
        return self._nodes[node_id]

    def roots(self) -> list[Node]:
        """The texts continued, oldest first."""
        return [self._nodes[i] for i in self._children.get(None, [])]

    def children(self, node_id: str) -> list[Node]:
        """A node's continuations, oldest first."""
        return [self._nodes[i] for i in self._children.get(node_id, [])]

    def siblings(self, node_id: str) -> list[Node]:
        """The node and the other continuations of the same prompt, oldest first."""
        return [self._nodes[i] for i in self._children.get(self._nodes[node_id].parent, [])]

    def ancestors(self, node_id: str) -> list[Node]:
        """The path from the root down to the node, both included."""
        path = []
        node: Node | None = self._nodes[node_id]
        while node is not None:
            path.append(node)
            node = self._nodes[node.parent] if node.parent is not None else None
        return path[::-1]

    def path_between(self, top: str, bottom: str) -> list[Node]:
        """The nodes below `top` down to `bottom` (included); ValueError when `bottom` is not under `top`."""
        path = self.ancestors(bottom)
        ids = [n.id for n in path]
        if top not in ids:
            raise ValueError(f"node {bottom} is not under {top}")
        return path[ids.index(top) + 1 :]

    def full_text(self, node_id: str) -> str:
        """The root's text and every continuation's text down to this node."""
        return "".join(n.text for n in self.ancestors(node_id))

    def prompt_of(self, node_id: str) -> str:
        """What the model was given to generate this node: the parent's full text plus the node's prefix."""
        node = self._nodes[node_id]
        if node.parent is None:
            raise ValueError("a root was not generated")
        return self.full_text(node.parent) + node.prefix

    def depth(self, node_id: str) -> int:
        """0 for a root."""
        return len(self.ancestors(node_id)) - 1

    def anchor_for(self, text: str) -> Node:
        """The node whose full text is `text` (the newest, deepest one), or a new root holding `text`."""
        found = [n for n in self._nodes.values() if self.full_text(n.id) == text]
        if found:
            return max(found, key=lambda n: (self.depth(n.id), n.created))
        return self._add(Node(id=_new_id(), parent=None, text=text))

    def add(self, parent: str, generation: Generation | None, *, prefix: str = "",
            action: ActionRecord | None = None) -> Node:
        """A new, still empty continuation of `parent` (with `action`: an action's answer replacing the passage after
        it); its text and tokens come with `finish`."""
        if parent not in self._nodes:
            raise KeyError(parent)
        return self._add(Node(id=_new_id(), parent=parent, text=prefix, prefix=prefix, generation=generation,
                              action=action))

    def answers(self, node_id: str) -> list[Node]:
        """An action's answer and the other answers of the same action on the same passage, oldest first."""
        action = self._nodes[node_id].action
        if action is None:
            raise ValueError(f"node {node_id} is not an action's answer")
        return [n for n in self.siblings(node_id) if n.action is not None and
                (n.action.name, n.action.instruction, n.action.passage) == (action.name, action.instruction,
                                                                            action.passage)]

    def finish(self, node_id: str, text: str, tokens: tuple[TokenRecord, ...], stop_reason: str) -> Node:
        """Record what a generation produced."""
        node = self._nodes[node_id]
        node.text = node.prefix + text
        node.tokens = tokens
        node.stop_reason = stop_reason
        return node

    def mark_accepted(self, top: str, bottom: str) -> None:
        """Mark the nodes below `top` down to `bottom` as written into the document."""
        for node in self.path_between(top, bottom):
            node.accepted = True

    def split(self, node_id: str, offset: int) -> Node:
        """Cut a continuation's text at character `offset` (0 < offset < its length): the node keeps the text before
        it and the tokens that made it, and a new child gets the rest, taking over the node's children. A token cut in
        two stays in the node (shortened); its rest becomes the child's prefix. Returns the child.

        The node's record stays (replaying it regenerates as many tokens as it keeps); the child has none of its own:
        it was generated as part of the node."""
        node = self._nodes[node_id]
        if node.parent is None or not 0 < offset < len(node.text):
            raise ValueError(f"cannot split node {node_id} at {offset}")
        kept: list[TokenRecord] = []
        position, cut_rest, rest_index = len(node.prefix), "", len(node.tokens)
        for index, token in enumerate(node.tokens):
            if position >= offset:
                rest_index = index
                break
            end = position + len(token.text)
            if end > offset:  # the cut falls inside this token
                kept.append(dataclasses.replace(token, text=token.text[: offset - position]))
                cut_rest, rest_index = token.text[offset - position :], index + 1
                break
            kept.append(token)
            position = end
        head_text, tail_text = node.text[:offset], node.text[offset:]
        if offset < len(node.prefix):  # inside the forced prefix: the child's prefix is the prefix's rest
            cut_rest = node.prefix[offset:]
            kept, rest_index = [], 0
        tail = Node(id=_new_id(), parent=node.id, text=tail_text, prefix=cut_rest, tokens=node.tokens[rest_index:],
                    stop_reason=node.stop_reason, accepted=node.accepted)
        node.text, node.tokens, node.stop_reason = head_text, tuple(kept), "split"
        node.prefix = node.prefix[:offset]
        self._nodes[tail.id] = tail
        children = self._children.pop(node.id, [])
        for child_id in children:
            self._nodes[child_id].parent = tail.id
        self._children[tail.id] = children
        self._children[node.id] = [tail.id]
        return tail

    def size_under(self, node_id: str) -> int:
        """How many nodes `remove(node_id)` would drop: the node and everything under it."""
        return 1 + sum(self.size_under(child.id) for child in self.children(node_id))

    def remove(self, node_id: str) -> list[str]:
        """Drop a node and everything under it; returns the ids dropped."""
        dropped = []
        for child in self.children(node_id):
            dropped += self.remove(child.id)
        node = self._nodes.pop(node_id)
        self._children[node.parent].remove(node_id)
        self._children.pop(node_id, None)
        if self.current == node_id:
            self.current = None
        return [*dropped, node_id]

    def replay_request(self, node_id: str) -> ReplayRequest:
        """The request that regenerates a node exactly (a stopped stream is replayed to the length it reached)."""
        node = self._nodes[node_id]
        if node.generation is None or node.generation.seed is None:
            raise ValueError("this node has no generation record to replay")
        if node.action is not None:
            raise ValueError("an action's answer is not a continuation: run the action again (regenerate)")
        params = node.generation.params
        if node.stop_reason in ("cancelled", "split"):
            params = params.replace(max_new_tokens=max(len(node.tokens), 1))
        return ReplayRequest(self.prompt_of(node_id), params, node.generation.alternatives, node.generation.prose)

    def _add(self, node: Node) -> Node:
        self._nodes[node.id] = node
        self._children.setdefault(node.parent, []).append(node.id)
        return node

    # --- the sidecar file

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of the whole tree, as the sidecar keeps it: every node's tokens packed in `tokens`, each
        distinct generation record once in `generations` (a node names its number and seed), and a node's text left
        out where it is its prefix and its tokens' texts."""
        nodes = list(self._parents_first())
        settings: dict[str, int] = {}
        items = []
        for node in nodes:
            item = node.to_dict(tokens=False)
            generation = item.get("generation")
            if generation is not None:
                seed = generation["params"].pop("seed", None)
                key = json.dumps(generation, sort_keys=True)
                item["generation"] = [settings.setdefault(key, len(settings)), seed]
            if node.tokens and node.text == node.prefix + "".join(t.text for t in node.tokens):
                del item["text"]
            items.append(item)
        return {"format": "scribe-branches", "version": FORMAT_VERSION, "current": self.current, "nodes": items,
                "generations": [json.loads(key) for key in settings], "tokens": token_columns.encode(n.tokens for n in nodes)}

    def to_readable_dict(self) -> dict[str, Any]:
        """The JSON document of the whole tree with each token written out (exports); `from_dict` reads it too."""
        return {"format": "scribe-branches", "version": FORMAT_VERSION, "current": self.current,
                "nodes": [n.to_dict() for n in self._parents_first()]}

    def _parents_first(self) -> Iterator[Node]:
        """Every node, each after its parent (a split puts a new node between a node and its children)."""
        stack = list(reversed(self._children.get(None, [])))
        while stack:
            node = self._nodes[stack.pop()]
            yield node
            stack.extend(reversed(self._children.get(node.id, [])))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "BranchTree":
        """Read the form `to_dict` or `to_readable_dict` writes, or a version 1 sidecar; parents come before their
        children."""
        if data.get("format") != "scribe-branches":
            raise ValueError("not a scribe branch file")
        if int(data.get("version", 1)) > FORMAT_VERSION:
            raise ValueError(f"written by a newer scribe (version {data['version']}); update scribe to open it")
        items = data.get("nodes", [])
        packed = token_columns.decode(data["tokens"]) if "tokens" in data else [None] * len(items)
        if len(packed) != len(items):
            raise ValueError(f"{len(packed)} token lists for {len(items)} nodes")
        generations = data.get("generations", [])
        tree = cls()
        for item, tokens in zip(items, packed):
            if isinstance(item.get("generation"), list):
                number, seed = item["generation"]
                generation = json.loads(json.dumps(generations[number]))
                generation["params"]["seed"] = seed
                item = {**item, "generation": generation}
            if "text" not in item and tokens is not None:
                item = {**item, "text": item.get("prefix", "") + "".join(t[1] for t in tokens)}
            node = Node.from_dict(item, tokens)
            if node.parent is not None and node.parent not in tree._nodes:
                raise ValueError(f"node {node.id} comes before its parent {node.parent}")
            tree._add(node)
        current = data.get("current")
        tree.current = current if current in tree._nodes else None
        return tree

    def to_json(self) -> str:
        """The tree as compact JSON text.

        Encoded piece by piece: `json.dumps` encodes in one C call that holds the GIL throughout (33 ms for a tree of
        16 continuations, longer as it grows), which stalled the studio's UI thread while a worker saved the tree.
        Between pieces other threads run; encoding takes about three times as long, in the worker.
        """
        encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
        return "".join(encoder.iterencode(self.to_dict()))

    def copy(self) -> "BranchTree":
        """A copy whose nodes can be read (saved) on another thread while this tree changes (tokens are shared)."""
        twin = BranchTree()
        for node in self._parents_first():
            twin._add(dataclasses.replace(node))
        twin.current = self.current
        return twin

    def save(self, path: Path) -> None:
        """Write the tree to `path` atomically."""
        atomic_write(path, self.to_json().encode("utf-8"))

    @classmethod
    def load(cls, path: Path) -> "BranchTree":
        """Read a sidecar; an empty tree when there is none, BranchFileError when it cannot be read."""
        if not path.exists():
            return cls()
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, IndexError, LZMAError) as exc:
            raise BranchFileError(f"{path}: cannot read the branch tree: {exc}") from None


def _new_id() -> str:
    return uuid.uuid4().hex[:12]
