"""The branch tree: structure, prompts, replay requests, the sidecar file, and moving around it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scribe.engine.base import Alternative
from scribe.sampling.params import SamplingParams
from scribe.sampling.processors import PROCESSOR_ORDER
from scribe.studio.branch_session import BranchSession
from scribe.studio.branches import ActionRecord, BranchFileError, BranchTree, Generation, TokenRecord, sidecar_path
from scribe.studio.export import to_json


def generation(seed: int = 1) -> Generation:
    return Generation(model="m", weights_hash="ab" * 32, params=SamplingParams(seed=seed, top_k=3),
                      processor_order=PROCESSOR_ORDER, alternatives=2, backend="transformers")


def tokens(*texts: str) -> tuple[TokenRecord, ...]:
    return tuple(TokenRecord(i, t, 0.5, 0.6, (Alternative(i, t, 0.5, 0.6), Alternative(99, "x", 0.1, 0.0, "top_k")))
                 for i, t in enumerate(texts))


def grown(tree: BranchTree, parent: str, *texts: str, seed: int = 1, prefix: str = "", reason: str = "max_tokens"):
    node = tree.add(parent, generation(seed), prefix=prefix)
    return tree.finish(node.id, "".join(texts), tokens(*texts), reason)


def test_prompts_full_texts_siblings_and_children() -> None:
    tree = BranchTree()
    root = tree.anchor_for("Once")
    a = grown(tree, root.id, " upon", " a")
    b = grown(tree, root.id, " more", seed=2)
    child = grown(tree, a.id, " time")
    picked = grown(tree, root.id, " end", prefix=" upon the")
    assert [n.id for n in tree.siblings(a.id)] == [a.id, b.id, picked.id]
    assert tree.children(a.id) == [child]
    assert tree.full_text(child.id) == "Once upon a time"
    assert tree.prompt_of(child.id) == "Once upon a"
    assert tree.prompt_of(picked.id) == "Once upon the" and picked.text == " upon the end" and picked.generated == " end"
    assert tree.anchor_for("Once upon a") is a, "a prompt that is a node's full text continues that node"
    assert tree.anchor_for("Once") is root and len(tree.roots()) == 1
    assert tree.anchor_for("Twice").is_root and len(tree.roots()) == 2
    assert [n.id for n in tree.path_between(root.id, child.id)] == [a.id, child.id]
    with pytest.raises(ValueError):
        tree.path_between(b.id, child.id)
    tree.current = child.id
    assert tree.remove(a.id) == [child.id, a.id]
    assert a.id not in tree and child.id not in tree and tree.current is None
    assert [n.id for n in tree.siblings(b.id)] == [b.id, picked.id]


def test_replay_request_repeats_the_record_and_a_stopped_stream_its_length() -> None:
    tree = BranchTree()
    root = tree.anchor_for("It")
    done = grown(tree, root.id, " was", seed=5)
    stopped = grown(tree, done.id, " a", " dark", seed=6, reason="cancelled")
    request = tree.replay_request(done.id)
    assert request.prompt == "It" and request.params == SamplingParams(seed=5, top_k=3) and request.alternatives == 2
    stopped_request = tree.replay_request(stopped.id)
    assert stopped_request.prompt == "It was" and stopped_request.params.max_new_tokens == 2
    with pytest.raises(ValueError):
        tree.replay_request(root.id)


def test_the_sidecar_round_trips_every_field(tmp_path: Path) -> None:
    tree = BranchTree()
    root = tree.anchor_for("Ünïcode ✓\n")
    a = grown(tree, root.id, " é", "🙂", seed=2**62)
    b = grown(tree, a.id, " z", prefix=" y")
    tree.mark_accepted(root.id, a.id)
    tree.current = b.id
    file = sidecar_path(tmp_path / "story.txt")
    assert file.name == "story.txt.scribe.json"
    tree.save(file)
    again = BranchTree.load(file)
    assert again.to_dict() == tree.to_dict()
    loaded = again.node(a.id)
    assert loaded.accepted and loaded.generation == a.generation
    assert [t.to_list() for t in loaded.tokens] == [t.to_list() for t in a.tokens], "probabilities as the sidecar keeps them"
    assert loaded.tokens[0].alternatives[1].removed_by == "top_k"
    assert again.current == b.id and again.node(b.id).prefix == " y"
    assert json.loads(file.read_text(encoding="utf-8"))["format"] == "scribe-branches"
    assert not list(tmp_path.glob("*.tmp")), "written atomically through a temporary file"
    twin = tree.copy()
    tree.finish(b.id, " changed", (), "eos")
    assert twin.to_dict() == again.to_dict(), "a copy does not follow later changes (it is saved on another thread)"


def test_an_actions_answers_are_siblings_kept_in_the_sidecar_and_exports(tmp_path: Path) -> None:
    tree = BranchTree()
    root = tree.anchor_for("It was late. ")
    record = ActionRecord(name="custom", label="Custom instruction", instruction="make it rain", start=13, end=41,
                          passage="The rain fell on the garden.")
    answers = []
    for seed, text in ((5, " It poured."), (6, " Rain.")):
        node = tree.add(root.id, generation(seed), action=record)
        answers.append(tree.finish(node.id, text, tokens(text), "eos"))
    other = tree.add(root.id, generation(7), action=ActionRecord("shorten", "Shorten", "", 13, 41, record.passage))
    continuation = grown(tree, root.id, " She")
    assert [n.id for n in tree.answers(answers[1].id)] == [n.id for n in answers], "same action, same passage"
    assert tree.answers(other.id) == [other]
    with pytest.raises(ValueError):
        tree.answers(continuation.id)
    with pytest.raises(ValueError):
        tree.replay_request(answers[0].id)  # an answer is no continuation of its parent
    file = sidecar_path(tmp_path / "story.txt")
    tree.save(file)
    again = BranchTree.load(file)
    assert again.to_dict() == tree.to_dict()
    assert again.node(answers[0].id).action == record and again.node(continuation.id).action is None
    assert again.node(answers[1].id).generation.seed == 6 and again.node(answers[1].id).text == " Rain."
    exported = json.loads(to_json(again))
    assert [n.get("action", {}).get("instruction") for n in exported["nodes"][1:3]] == ["make it rain"] * 2
    assert BranchTree.from_dict(exported).node(answers[1].id).action == record


def test_unreadable_sidecars_are_refused_with_the_file_named(tmp_path: Path) -> None:
    assert len(BranchTree.load(tmp_path / "none.scribe.json")) == 0
    bad = tmp_path / "bad.scribe.json"
    for content in ("{not json", json.dumps({"format": "other"}),
                    json.dumps({"format": "scribe-branches", "nodes": [{"id": "a", "parent": "zz", "text": ""}]})):
        bad.write_text(content, encoding="utf-8")
        with pytest.raises(BranchFileError, match="bad.scribe.json"):
            BranchTree.load(bad)


def test_the_session_moves_under_the_anchor_and_accepts_the_offered_path() -> None:
    session = BranchSession()
    anchor = session.begin("Hi")
    first = session.grow(anchor.id, generation(1))
    session.tree.finish(first.id, " there", tokens(" there"), "max_tokens")
    second = session.grow(anchor.id, generation(2))
    session.tree.finish(second.id, " you", tokens(" you"), "max_tokens")
    assert session.current is second and session.sibling(1) is None
    assert session.sibling(-1) is first and session.current is first
    assert session.parent() is None, "the parent of a first-level branch is the writer's text"
    child = session.grow(first.id, generation(3))
    session.tree.finish(child.id, " friend", tokens(" friend"), "eos")
    assert session.offered_text() == " there friend"
    assert session.parent() is first and session.child() is child
    assert session.accept()[0] == " there friend"
    assert session.tree.node(first.id).accepted and session.tree.node(child.id).accepted
    assert not session.tree.node(second.id).accepted
    assert session.current is None and session.begin("Hi there friend") is child, "the next prompt continues it"


def test_selecting_a_node_anchors_at_what_the_document_already_holds() -> None:
    session = BranchSession()
    root = session.begin("A")
    one = session.grow(root.id, generation())
    session.tree.finish(one.id, "B", tokens("B"), "eos")
    two = session.grow(one.id, generation())
    session.tree.finish(two.id, "C", tokens("C"), "eos")
    assert session.select(two.id, "AB and more") == 2 and session.offered_text() == "C"
    assert session.select(two.id, "A, then") == 1 and session.offered_text() == "BC"
    assert session.select(two.id, "elsewhere") == -1 and session.anchor == root.id


def test_the_studio_core_imports_neither_textual_nor_torch() -> None:
    import subprocess
    import sys

    code = ("import sys, scribe.studio.branch_session, scribe.studio.presets, scribe.studio.export, "
            "scribe.studio.fingerprint, scribe.studio.context, scribe.engine.scoring\n"
            "print(sorted(m for m in ('textual', 'torch', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
