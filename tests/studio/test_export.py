"""Export as Markdown (with and without the tree) and JSON, and where compared outputs diverge."""

from __future__ import annotations

import json

from scribe.sampling.params import SamplingParams
from scribe.studio.branches import BranchTree, Generation
from scribe.studio.compare import first_divergence, token_at
from scribe.studio.export import to_json, to_markdown


def small_tree() -> BranchTree:
    tree = BranchTree()
    root = tree.anchor_for("The night was")
    gen = Generation("tiny", None, SamplingParams(seed=3), ("temperature",), 5)
    kept = tree.finish(tree.add(root.id, gen).id, " dark_and *cold*", (), "eos")
    tree.finish(tree.add(root.id, gen).id, " long", (), "max_tokens")
    tree.finish(tree.add(kept.id, gen).id, "\nand quiet", (), "eos")
    tree.mark_accepted(root.id, kept.id)
    return tree


def test_markdown_without_and_with_the_tree() -> None:
    plain = to_markdown("story.txt", "The night was dark.\n\n")
    assert plain == "# story.txt\n\nThe night was dark.\n"
    with_tree = to_markdown("story.txt", "The night was dark.", small_tree())
    lines = with_tree.splitlines()
    assert "## Branches" in lines and "> The night was" in lines
    assert "- **accepted**; tiny, seed 3: dark\\_and \\*cold\\*" in lines
    assert "- tiny, seed 3: long" in lines
    assert "  - tiny, seed 3: and quiet" in lines, "a child is nested and its newline folded"


def test_json_is_the_tree() -> None:
    tree = small_tree()
    assert BranchTree.from_dict(json.loads(to_json(tree))).to_dict() == tree.to_dict()


def test_first_divergence() -> None:
    assert first_divergence(["abc", "abc"]) is None
    assert first_divergence(["abcd", "abXd", "abc"]) == 2
    assert first_divergence(["ab", "abc"]) == 2
    assert token_at(["ab", "c", "de"], 2) == 1 and token_at(["ab"], 5) == 1
