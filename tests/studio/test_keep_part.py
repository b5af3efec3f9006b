"""Keeping part of a continuation: word and sentence ends, splitting a node, accepting part of the offered path and
taking an accept back."""

from __future__ import annotations

from pathlib import Path

from scribe.sampling.params import SamplingParams
from scribe.studio.branch_session import BranchSession
from scribe.studio.branches import BranchTree, Generation, TokenRecord
from scribe.studio.keep import sentence_end, word_end

GENERATION = Generation(model="m", weights_hash=None, params=SamplingParams(seed=1), processor_order=(), alternatives=0)


def test_word_and_sentence_ends() -> None:
    assert word_end(" the sea was calm") == 4
    assert word_end("\n\nThe sea") == 5
    assert word_end("   ") == 3
    text = ' "Go home." She left. Then'
    assert text[: sentence_end(text)] == ' "Go home."'
    assert sentence_end(" no end here") == len(" no end here")
    assert " a line\n\nNext"[: sentence_end(" a line\n\nNext")] == " a line\n\n"
    assert sentence_end(" Mr.Smith went home. Yes") == len(" Mr.Smith went home.")


def session_with(pieces: list[str]) -> tuple[BranchSession, str]:
    session = BranchSession()
    anchor = session.begin("Once")
    node = session.grow(anchor.id, GENERATION)
    tokens = tuple(TokenRecord(n, piece, 0.5, 0.5) for n, piece in enumerate(pieces))
    session.tree.finish(node.id, "".join(pieces), tokens, "length")
    return session, node.id


def test_keeping_a_part_splits_the_node_at_the_cut_and_offers_the_rest(tmp_path: Path) -> None:
    session, node_id = session_with([" the", " sea", " was", " calm", "."])
    text, acceptance = session.accept_part(9)  # " the sea " cuts " was" after its space
    assert text == " the sea " and acceptance is not None
    head = session.tree.node(node_id)
    assert head.text == " the sea " and head.accepted and [t.text for t in head.tokens] == [" the", " sea", " "]
    rest = session.current
    assert rest is not None and rest.parent == node_id and not rest.accepted
    assert rest.text == "was calm." and rest.prefix == "was" and [t.text for t in rest.tokens] == [" calm", "."]
    assert session.offered_text() == "was calm." and session.anchor == node_id
    assert session.tree.replay_request(node_id).params.max_new_tokens == 3, "the kept part replays its tokens"
    path = tmp_path / "tree.json"
    session.tree.save(path)
    again = BranchTree.load(path)
    assert again.full_text(rest.id) == "Once the sea was calm." and again.children(node_id)[0].id == rest.id

    assert session.take_back(acceptance)
    assert not head.accepted and session.offered_text() == " the sea was calm."
    assert session.accept_again(acceptance)
    assert head.accepted and session.offered_text() == "was calm."
    text, _ = session.accept_part(100)
    assert text == "was calm." and session.current is None and session.tree.node(rest.id).accepted


def test_keeping_exactly_the_first_node_of_a_path_splits_nothing() -> None:
    session, first = session_with([" the", " sea"])
    second = session.grow(first, GENERATION)
    session.tree.finish(second.id, " was calm.", (TokenRecord(9, " was calm.", 0.5, 0.5),), "length")
    text, _ = session.accept_part(len(" the sea"))
    assert text == " the sea" and session.anchor == first and session.current is second
    assert len(session.tree) == 3 and session.tree.node(first).accepted and not second.accepted


def test_a_split_node_moves_its_children_under_the_rest() -> None:
    session, first = session_with([" the", " sea"])
    child = session.grow(first, GENERATION)
    session.tree.finish(child.id, " rose", (TokenRecord(9, " rose", 0.5, 0.5),), "length")
    rest = session.tree.split(first, 4)
    assert session.tree.node(child.id).parent == rest.id and session.tree.full_text(child.id) == "Once the sea rose"
