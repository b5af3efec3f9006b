"""The branch tree view: every text continued and every continuation under it; enter shows the highlighted branch.

Under the tree, the highlighted node's record: the model and its weights hash, the seed, every sampling setting and
the sampler order, which is what replaying it (alt+r on the main screen) uses.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Label, Static, Tree
from textual.widgets.tree import TreeNode

from scribe.sampling.params import SamplingParams
from scribe.studio.branches import BranchTree, Node
from scribe.ui.keys import TREE_BINDINGS, hint_key
from scribe.ui.widgets.stream_view import probability_style

EXCERPT = 60
STOP_WORDS = {"split": "part kept (the rest below)", "edited": "your edit"}
"""How the tree names the ends that are not a model's: a node cut where part of it was kept, the writer's edit."""


def one_line(text: str) -> str:
    """Text on one line, line breaks (a bare carriage return too) shown as ⏎."""
    return text.replace("\r\n", "⏎").replace("\n", "⏎").replace("\r", "⏎")


def node_label(tree: BranchTree, node: Node) -> Text:
    """A tree line: markers, the start of the node's text coloured by probability, and its seed."""
    label = Text()
    if node.is_root:
        tail = one_line(node.text[-EXCERPT:])
        label.append("✎ ", style="bold").append(("…" if len(node.text) > EXCERPT else "") + tail, style="italic dim")
        return label
    label.append("● " if tree.current == node.id else "  ", style="bold")
    label.append("✓ " if node.accepted else "  ", style="green")
    if node.action is not None:  # an instruct action's answer, in place of the passage
        label.append(f"{node.action.label} ▸ ", style="bold magenta")
    label.append(one_line(node.prefix), style="underline")
    budget = EXCERPT - len(node.prefix)
    for token in node.tokens:
        if budget <= 0:
            break
        piece = one_line(token.text)[:budget]
        label.append(piece, style=probability_style(token.raw_prob))
        budget -= len(piece)
    if not node.tokens and not node.prefix:
        label.append("(empty)", style="dim")
    if budget <= 0:
        label.append("…", style="dim")
    seed = node.generation.seed if node.generation else None
    ended = STOP_WORDS.get(node.stop_reason, node.stop_reason) or "running"
    label.append(("" if seed is None else f"  seed {seed}") + f" · {len(node.tokens)} tokens · {ended}", style="dim")
    return label


def node_record(node: Node) -> Text:
    """What the highlighted node records."""
    if node.is_root:
        return Text(f"the text continued ({len(node.text)} characters)", style="dim")
    record = Text()
    generation = node.generation
    if generation is not None:
        record.append("model ", style="dim").append(generation.model, style="bold")
        record.append(f"  weights sha256 {generation.weights_hash[:16] + '…' if generation.weights_hash else 'unknown'}", style="dim")
        record.append(f"  seed {generation.seed}\n")
        defaults = SamplingParams().to_dict()
        changed = {k: v for k, v in generation.params.to_dict().items() if k != "seed" and v != defaults[k]}
        settings = ", ".join(f"{k}={v}" for k, v in changed.items()) or "all default"
        record.append("settings ", style="dim").append(settings).append(" (the rest default)\n", style="dim")
        record.append("order ", style="dim").append(" › ".join(generation.processor_order) + "\n")
    if node.action is not None:
        record.append("action ", style="dim").append(node.action.label, style="bold")
        if node.action.instruction:
            record.append(f" “{node.action.instruction}”")
        passage = one_line(node.action.passage[:EXCERPT])
        record.append(f" on characters {node.action.start}–{node.action.end}: {passage!r}\n", style="dim")
    record.append(f"{len(node.tokens)} tokens, ended by {node.stop_reason or '(running)'}", style="dim")
    if node.prefix:
        record.append(f" · continues the chosen alternative {node.prefix[-20:]!r}", style="dim")
    return record


class BranchTreeScreen(Screen[str | None]):
    """The whole tree; dismisses with the id of the branch to show, or None."""

    DEFAULT_CSS = """
    BranchTreeScreen #tree { height: 1fr; border: round $primary; }
    BranchTreeScreen #tree-record { height: auto; max-height: 8; border: round $primary-darken-2; padding: 0 1; }
    """
    BINDINGS = TREE_BINDINGS

    def __init__(self, tree: BranchTree) -> None:
        super().__init__()
        self.branches = tree
        self.deleted: list[str] = []
        """Ids of the nodes deleted here."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text.assemble(" ", ("Branches", "bold"), f"  ↑/↓ move · enter show this branch · "
                                      f"{hint_key(self, 'tree_delete')} delete · {hint_key(self, 'tree_close')} back"))
            widget: Tree[str] = Tree("branches", id="tree")
            widget.show_root = False
            yield widget
            yield Static("", id="tree-record")
        yield Footer()

    def on_mount(self) -> None:
        widget = self.query_one("#tree", Tree)
        current: TreeNode[str] | None = None
        for root in self.branches.roots():
            added = self._add(widget.root, root)
            current = current or added
        widget.root.expand_all()
        if current is not None:
            self.call_after_refresh(widget.move_cursor, current)  # lines are laid out on the first refresh
        widget.focus()

    def _add(self, parent: TreeNode[str], node: Node) -> TreeNode[str] | None:
        """Add `node` and its subtree; return the tree node of the current branch if it is in there."""
        children = self.branches.children(node.id)
        item = parent.add(node_label(self.branches, node), data=node.id, allow_expand=bool(children))
        found = item if self.branches.current == node.id else None
        for child in children:
            found = self._add(item, child) or found
        return found

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[str]) -> None:
        if event.node.data is not None:
            self.query_one("#tree-record", Static).update(node_record(self.branches.node(event.node.data)))

    def action_delete(self) -> None:
        """Ask, then delete the highlighted branch (or text and all its branches) from the tree."""
        from scribe.ui.screens.dialogs import ConfirmScreen

        item = self.query_one("#tree", Tree).cursor_node
        if item is None or item.data is None:
            return
        node = self.branches.node(item.data)
        under = self.branches.size_under(node.id) - 1
        what = "this text and its" if node.is_root else "this branch and the"
        question = (f"Delete {what} {under} continuation(s) under it?" if under or node.is_root
                    else "Delete this branch?")
        excerpt = one_line(node.text[:EXCERPT])
        self.app.push_screen(ConfirmScreen(f"{question}\n“{excerpt}”\nThe document keeps what was accepted.", "Delete"),
                             lambda yes: self._delete(item) if yes else None)

    def _delete(self, item: TreeNode[str]) -> None:
        if item.data is None or item.data not in self.branches:
            return
        self.deleted += self.branches.remove(item.data)
        item.remove()
        self.query_one("#tree-record", Static).update("")
        self.notify("branch deleted", timeout=2)

    def on_tree_node_selected(self, event: Tree.NodeSelected[str]) -> None:
        node_id = event.node.data
        if node_id is not None and not self.branches.node(node_id).is_root:
            self.dismiss(node_id)
