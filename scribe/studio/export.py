"""Exporting a document: Markdown, with or without its branch tree, and the tree as JSON."""

from __future__ import annotations

import json

from scribe.studio.branches import BranchTree, Node

EXCERPT_CHARS = 80
"""How much of a root's text (its end) the Markdown tree quotes."""


def to_markdown(title: str, text: str, tree: BranchTree | None = None) -> str:
    """The document under a `# title` heading; with a tree, a `## Branches` section lists every continuation."""
    parts = [f"# {title}\n\n", text.rstrip("\n") + "\n"]
    if tree is not None and len(tree):
        parts.append("\n## Branches\n")
        for root in tree.roots():
            excerpt = root.text[-EXCERPT_CHARS:]
            lead = "…" if len(root.text) > EXCERPT_CHARS else ""
            parts.append("\n> " + _one_line(lead + excerpt) + "\n\n")
            parts.extend(_branch_lines(tree, root, 0))
    return "".join(parts)


def _branch_lines(tree: BranchTree, parent: Node, depth: int) -> list[str]:
    lines = []
    for node in tree.children(parent.id):
        indent = "  " * depth
        lines.append(f"{indent}- {_describe(node)}: {_one_line(node.text) or '(empty)'}\n")
        lines.extend(_branch_lines(tree, node, depth + 1))
    return lines


def _describe(node: Node) -> str:
    words = ["**accepted**"] if node.accepted else []
    if node.action is not None:
        words.append(f"{node.action.label} of “{_one_line(node.action.passage)[:EXCERPT_CHARS]}”")
    if node.generation is not None:
        words.append(f"{node.generation.model}, seed {node.generation.seed}")
    if node.prefix:
        words.append(f"from alternative {node.prefix[-20:]!r}")
    return "; ".join(words) or "continuation"


def _one_line(text: str) -> str:
    return " ".join(text.split()).replace("*", "\\*").replace("_", "\\_")


def to_json(tree: BranchTree) -> str:
    """The tree as indented JSON, each token written out (the sidecar packs them); `BranchTree.from_dict` reads it."""
    return json.dumps(tree.to_readable_dict(), ensure_ascii=False, indent=2)
