"""Where the writer is in the branch tree: the text the offered branch continues (the anchor) and the node shown.

The anchor is the node whose full text is the text before the editor's mark: a root for a fresh prompt, or the last
accepted continuation. The offered path runs from just below the anchor down to the shown node; accepting writes that
path into the document. Moving between siblings, to the parent or to a child stays under the anchor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scribe.studio.branches import BranchTree, Generation, Node, sidecar_path


@dataclass(frozen=True)
class Acceptance:
    """One accept, enough to take it back (undo) and to make it again (redo)."""

    anchor: str
    """The anchor before the accept."""
    shown: str
    """The node shown when it was accepted."""
    marked: tuple[str, ...]
    """The nodes this accept marked accepted (those already accepted stay so when it is taken back)."""
    head: str
    """The last node accepted: `shown`, or above it when part of the offered text was kept."""


class BranchSession:
    """A document's branch tree, the position in it, and the sidecar it is saved to."""

    def __init__(self, tree: BranchTree | None = None, sidecar: Path | None = None) -> None:
        self.tree = tree or BranchTree()
        self.sidecar = sidecar
        self.anchor: str | None = None
        """The node whose full text sits before the editor's mark."""

    @classmethod
    def for_document(cls, document_path: Path | None) -> "BranchSession":
        """The session of a document: its sidecar's tree (BranchFileError when unreadable), or an empty tree."""
        if document_path is None:
            return cls()
        sidecar = sidecar_path(document_path)
        return cls(BranchTree.load(sidecar), sidecar)

    def attach(self, document_path: Path) -> None:
        """The document got a file name: the tree is saved beside it from now on."""
        self.sidecar = sidecar_path(document_path)

    @property
    def current(self) -> Node | None:
        """The node shown, if any."""
        node_id = self.tree.current
        return self.tree.node(node_id) if node_id is not None and node_id in self.tree else None

    def begin(self, prompt: str) -> Node:
        """Anchor at the node whose full text is `prompt` (a new root when there is none); nothing is shown yet."""
        anchor = self.tree.anchor_for(prompt)
        self.anchor = anchor.id
        self.tree.current = None
        return anchor

    def grow(self, parent: str, generation: Generation, *, prefix: str = "") -> Node:
        """A new continuation of `parent` (which must be the anchor or below it), now the node shown."""
        node = self.tree.add(parent, generation, prefix=prefix)
        self.tree.current = node.id
        return node

    def path(self) -> list[Node]:
        """The offered path: from below the anchor down to the node shown (empty when nothing is shown)."""
        current = self.current
        if current is None or self.anchor is None:
            return []
        return self.tree.path_between(self.anchor, current.id)

    def offered_text(self) -> str:
        """What accepting inserts."""
        return "".join(node.text for node in self.path())

    def sibling(self, step: int) -> Node | None:
        """Show the sibling `step` places away (None, nothing changed, past either end)."""
        current = self.current
        if current is None:
            return None
        siblings = self.tree.siblings(current.id)
        index = [n.id for n in siblings].index(current.id) + step
        if not 0 <= index < len(siblings):
            return None
        self.tree.current = siblings[index].id
        return siblings[index]

    def parent(self) -> Node | None:
        """Show the continuation this one continues (None at the top of the offered path)."""
        current = self.current
        if current is None or current.parent is None or current.parent == self.anchor:
            return None
        self.tree.current = current.parent
        return self.current

    def child(self) -> Node | None:
        """Show the newest continuation of the shown node (None when it has none)."""
        current = self.current
        children = self.tree.children(current.id) if current is not None else []
        if not children:
            return None
        self.tree.current = children[-1].id
        return children[-1]

    def select(self, node_id: str, document_text: str) -> int:
        """Show node `node_id`, anchored at its deepest ancestor that the document starts with; returns the offset
        where that ancestor's text ends (where accepting inserts). A root's text the document does not start with
        anchors at the root and returns -1 (the caller inserts at the cursor)."""
        node = self.tree.node(node_id)
        if node.is_root:
            raise ValueError("a root is the writer's text, not a branch to show")
        ancestors = self.tree.ancestors(node_id)[:-1]
        offset = -1
        anchor = ancestors[0]
        text = ""
        for ancestor in ancestors:
            text += ancestor.text
            if not document_text.startswith(text):
                break
            anchor, offset = ancestor, len(text)
        self.anchor = anchor.id
        self.tree.current = node_id
        return offset

    def accept(self) -> tuple[str, Acceptance | None]:
        """Mark the offered path accepted and anchor after it; returns the text to insert and the record that
        `take_back` uses (None when nothing is offered)."""
        current = self.current
        if current is None or self.anchor is None:
            return "", None
        text = self.offered_text()
        marked = tuple(node.id for node in self.path() if not node.accepted)
        acceptance = Acceptance(self.anchor, current.id, marked, current.id)
        self.tree.mark_accepted(self.anchor, current.id)
        self.anchor = current.id
        self.tree.current = None
        return text, acceptance

    def accept_part(self, length: int) -> tuple[str, Acceptance | None]:
        """Accept the first `length` characters of the offered text (the node they end in is split there); the rest
        stays offered. Accepting all of it, or more, is `accept`."""
        current = self.current
        if current is None or self.anchor is None or length <= 0:
            return "", None
        position = 0
        for node in self.path():
            end = position + len(node.text)
            if length < end:
                if length > position:
                    tail = self.tree.split(node.id, length - position)
                    if current.id == node.id:
                        current = tail
                    head = node
                else:  # the cut falls where this node starts: the nodes before it are kept
                    head = self.tree.node(node.parent) if node.parent is not None else node
                text = self.offered_text()[:length]
                marked = tuple(n.id for n in self.tree.path_between(self.anchor, head.id) if not n.accepted)
                acceptance = Acceptance(self.anchor, current.id, marked, head.id)
                self.tree.mark_accepted(self.anchor, head.id)
                self.anchor = head.id
                self.tree.current = current.id
                return text, acceptance
            position = end
        return self.accept()

    def accept_edited(self, text: str) -> tuple[str, Acceptance | None]:
        """Accept `text`, the writer's edit of the offered text: a new continuation of the anchor holding it (the
        offered branch stays in the tree as generated). Returns the text to insert and the record `take_back` uses."""
        if self.anchor is None:
            return "", None
        node = self.tree.add(self.anchor, None, prefix=text)
        node.stop_reason = "edited"
        self.tree.current = node.id
        return self.accept()

    def take_back(self, acceptance: Acceptance) -> bool:
        """Undo an accept: its nodes are no longer accepted and its branch is offered again. False (nothing changed)
        when the branch was deleted since."""
        if acceptance.shown not in self.tree or acceptance.anchor not in self.tree:
            return False
        for node_id in acceptance.marked:
            if node_id in self.tree:
                self.tree.node(node_id).accepted = False
        self.anchor = acceptance.anchor
        self.tree.current = acceptance.shown
        return True

    def accept_again(self, acceptance: Acceptance) -> bool:
        """Redo an accept taken back; False when its branch was deleted since."""
        if acceptance.shown not in self.tree or acceptance.anchor not in self.tree:
            return False
        if acceptance.head not in self.tree:
            return False
        self.tree.mark_accepted(acceptance.anchor, acceptance.head)
        self.anchor = acceptance.head
        self.tree.current = None if acceptance.head == acceptance.shown else acceptance.shown
        return True

    def put_away(self) -> None:
        """Nothing is shown any more (reject); the tree keeps the node."""
        self.tree.current = None
        self.anchor = None

    def snapshot(self) -> BranchTree | None:
        """A copy of the tree to write to the sidecar (on any thread), or None while the document has no file name."""
        return self.tree.copy() if self.sidecar is not None and len(self.tree) else None
