"""The branch sidecar stays small and keeps what the studio shows: a 200-node tree of 200 tokens with 5 alternatives
each fits in 1 MB, probabilities read back show the same percentages and colours, and version 1 sidecars still load."""

from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path

import pytest

from scribe.sampling.params import SamplingParams
from scribe.sampling.processors import PROCESSOR_ORDER
from scribe.studio.branches import BranchTree, Generation, TokenRecord, sidecar_path
from scribe.studio.export import to_json
from scribe.studio.token_columns import dequantise, quantise
from scribe.types import Alternative
from scribe.ui.widgets.stream_view import percent, probability_style

VOCAB = 50257
LETTERS = "etaoinshrdlucmfwypvbgkjqxz"


def word(token_id: int) -> str:
    """A made-up token text for an id: a few letters, most with a leading space, some punctuation."""
    rng = random.Random(token_id)
    if token_id % 17 == 0:
        return rng.choice([",", ".", ";", "\n", "\n\n", "'", '"', "!", "?", " —", "é", "🙂"])
    letters = "".join(rng.choice(LETTERS) for _ in range(rng.randint(1, 7)))
    return (" " if rng.random() < 0.7 else "") + letters


class Vocabulary:
    """Token ids drawn as words are in text: a few very often, most rarely (Zipf, s = 1.1)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.ids = list(range(VOCAB))
        rng.shuffle(self.ids)
        total, self.cumulative = 0.0, []
        for rank in range(1, VOCAB + 1):
            total += 1 / rank**1.1
            self.cumulative.append(total)

    def draw(self, count: int) -> list[int]:
        """`count` distinct ids."""
        found: dict[int, None] = {}
        while len(found) < count:
            found[self.ids[self.rng.choices(range(VOCAB), cum_weights=self.cumulative)[0]]] = None
        return list(found)


def random_token(rng: random.Random, vocabulary: Vocabulary, width: int) -> TokenRecord:
    """A token as the sampler records it: the top `width` candidates by raw probability, those past a random cut
    removed by top_k (final 0), the rest renormalised at temperature 0.8; usually one of them is picked."""
    ids = vocabulary.draw(width + 1)
    weights = sorted((rng.random() ** 4 for _ in range(width)), reverse=True)
    mass = rng.uniform(0.2, 0.999)
    raw = [mass * w / sum(weights) for w in weights]
    kept = rng.randint(1, width)
    tempered = [r ** (1 / 0.8) for r in raw[:kept]]
    final = [t / sum(tempered) for t in tempered] + [0.0] * (width - kept)
    alternatives = tuple(Alternative(i, word(i), r, f, None if n < kept else "top_k")
                         for n, (i, r, f) in enumerate(zip(ids, raw, final)))
    if rng.random() < 0.95:
        chosen = rng.choices(alternatives[:kept], weights=final[:kept])[0]
        return TokenRecord(chosen.token_id, chosen.text, chosen.raw_prob, chosen.final_prob, alternatives)
    outsider = ids[-1]
    return TokenRecord(outsider, word(outsider), rng.uniform(1e-7, raw[-1]), rng.uniform(1e-5, 0.01), alternatives)


def random_tree(nodes: int, tokens: int, width: int, seed: int = 7) -> BranchTree:
    """A tree of `nodes` continuations (each under a random earlier one) of `tokens` tokens each."""
    rng = random.Random(seed)
    vocabulary = Vocabulary(rng)
    tree = BranchTree()
    parents = [tree.anchor_for("It was a dark and stormy night; the rain fell in torrents.").id]
    for _ in range(nodes):
        generation = Generation("gpt2", "ab" * 32, SamplingParams(seed=rng.getrandbits(63), top_k=3, temperature=0.8),
                                PROCESSOR_ORDER, width, backend="transformers", source="gpt2")
        node = tree.add(rng.choice(parents), generation)
        records = tuple(random_token(rng, vocabulary, width) for _ in range(tokens))
        tree.finish(node.id, "".join(r.text for r in records), records, "max_tokens")
        parents.append(node.id)
    tree.current = parents[-1]
    return tree


def shown(token: TokenRecord) -> list[str]:
    """What the inspector and the colours show of a token and its alternatives."""
    rows = [percent(token.raw_prob), percent(token.final_prob), probability_style(token.raw_prob)]
    for alt in token.alternatives:
        rows += [percent(alt.raw_prob), percent(alt.final_prob), probability_style(alt.raw_prob), str(alt.removed_by),
                 repr(alt.text), str(alt.token_id)]
    return rows


def test_a_200_node_tree_of_200_tokens_fits_in_a_megabyte_and_reads_back_the_same(tmp_path: Path) -> None:
    tree = random_tree(200, 200, 5)
    file = sidecar_path(tmp_path / "story.txt")
    started = time.perf_counter()
    tree.copy().save(file)
    saved_in = time.perf_counter() - started
    size = file.stat().st_size
    old_size = len(json.dumps(tree.to_readable_dict(), ensure_ascii=False, separators=(",", ":")).encode())
    print(f"sidecar {size / 1e6:.2f} MB (tokens written out: {old_size / 1e6:.1f} MB), saved in {saved_in:.2f} s")
    assert size <= 1_000_000
    again = BranchTree.load(file)
    assert len(again) == len(tree) == 201 and again.current == tree.current
    for node in tree:
        loaded = again.node(node.id)
        assert (loaded.text, loaded.parent, loaded.generation, loaded.stop_reason) == (
            node.text, node.parent, node.generation, node.stop_reason)
        assert len(loaded.tokens) == len(node.tokens)
        for before, after in zip(node.tokens, loaded.tokens):
            assert shown(after) == shown(before)
            assert after.raw_prob == pytest.approx(before.raw_prob, rel=1.2e-2, abs=1e-3)
            assert all(a.final_prob == pytest.approx(b.final_prob, rel=1.2e-2, abs=1e-3)
                       for a, b in zip(after.alternatives, before.alternatives))
    saved_again = tmp_path / "again.scribe.json"
    again.save(saved_again)
    assert saved_again.read_bytes() == file.read_bytes(), "saving what was read writes the same file"


@pytest.mark.parametrize("p", [0.0, 1.0, math.nan, 0.5, 0.6, 0.1, 0.125, 0.1250004, 0.12499996, 0.0995, 0.00099999,
                               0.001, 0.0010004, 0.0499996, 0.995, 0.9949999, 0.994999, 1e-12, 0.19999999])
def test_a_probability_shows_the_same_after_the_round_trip(p: float) -> None:
    value = dequantise(quantise(p))
    assert (percent(value), probability_style(value)) == (percent(p), probability_style(p))
    assert quantise(value) == quantise(p), "quantising again changes nothing"


def test_every_probability_near_where_the_shown_text_changes_reads_back_the_same() -> None:
    edges = [k / 1000 - 0.0005 for k in range(1, 101)] + [k / 100 - 0.005 for k in range(10, 101)]
    edges += [0.001, 0.01, 0.05, 0.1, 0.2, 0.5]
    for edge in edges:
        for delta in (-1e-6, -1e-7, -1e-9, 0.0, 1e-9, 1e-7, 1e-6):
            p = min(edge + delta, 1.0)
            value = dequantise(quantise(p))
            assert (percent(value), probability_style(value)) == (percent(p), probability_style(p)), p


def version_1(tree: BranchTree) -> dict:
    """The sidecar as scribe wrote it before the tokens were packed: one list per token, 6 significant digits."""
    data = tree.to_readable_dict()
    data["version"] = 1
    for item, node in zip(data["nodes"], tree._parents_first()):
        if "tokens" in item:
            item["tokens"] = [[t.token_id, t.text, float(f"{t.raw_prob:.6g}"), float(f"{t.final_prob:.6g}"),
                               [[a.token_id, a.text, float(f"{a.raw_prob:.6g}"), float(f"{a.final_prob:.6g}"),
                                 a.removed_by] for a in t.alternatives]] for t in node.tokens]
    return data


def test_a_version_1_sidecar_loads_and_is_saved_packed(tmp_path: Path) -> None:
    tree = random_tree(6, 30, 5, seed=3)
    file = sidecar_path(tmp_path / "story.txt")
    file.write_text(json.dumps(version_1(tree), ensure_ascii=False), encoding="utf-8")
    old_size = file.stat().st_size
    loaded = BranchTree.load(file)
    for node in tree:
        assert [shown(t) for t in loaded.node(node.id).tokens] == [shown(t) for t in node.tokens]
    loaded.save(file)
    data = json.loads(file.read_text(encoding="utf-8"))
    assert data["version"] == 2 and "tokens" in data and all("tokens" not in n for n in data["nodes"])
    assert file.stat().st_size < old_size / 4
    assert BranchTree.load(file).to_dict() == loaded.to_dict()


def test_the_json_export_writes_each_token_out_and_reads_back_as_the_tree() -> None:
    tree = random_tree(3, 20, 5, seed=5)
    exported = json.loads(to_json(tree))
    node = tree.roots()[0].id
    first = next(item for item in exported["nodes"] if item["parent"] == node)
    assert len(first["tokens"]) == 20 and len(first["tokens"][0][4]) == 5
    assert BranchTree.from_dict(exported).to_dict() == tree.to_dict()


def test_a_newer_sidecar_is_refused_with_the_file_named(tmp_path: Path) -> None:
    from scribe.studio.branches import BranchFileError

    file = tmp_path / "story.txt.scribe.json"
    data = random_tree(1, 3, 2).to_dict()
    data["version"] = 99
    file.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(BranchFileError, match="story.txt.scribe.json.*newer scribe"):
        BranchTree.load(file)
    data["version"] = 2
    data["tokens"]["data"] = data["tokens"]["data"][:-20] + "A" * 20
    file.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(BranchFileError, match="story.txt.scribe.json"):
        BranchTree.load(file)
