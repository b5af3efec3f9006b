"""DRY, XTC and mirostat v2 against their definitions: hand-made distributions, and reference formulas written from
the original descriptions (text-generation-webui PRs #5677 and #6335, Basu et al. 2021 / llama.cpp's mirostat v2)."""

from __future__ import annotations

import math
import random

import pytest
import torch
from torch.testing import assert_close

from scribe.cli import build_parser
from scribe.commands.generate import sampling_from_args
from scribe.sampling.params import InvalidSetting, SamplingParams, field_docs, parse_breakers
from scribe.sampling.processors import apply_processors, enabled
from scribe.sampling.sampler import Sampler

PLAIN = SamplingParams(temperature=1.0)
NEW_FIELDS = (
    "dry_multiplier", "dry_base", "dry_allowed_length", "dry_sequence_breakers",
    "xtc_threshold", "xtc_probability", "mirostat_tau", "mirostat_eta",
)  # fmt: skip


def log_probs(*probs: float) -> torch.Tensor:
    return torch.tensor([math.log(p) for p in probs])


def dry(logits, ids, breakers=(), **settings):
    """The scores after DRY alone; tokens in `breakers` are sequence breakers."""
    params = PLAIN.replace(dry_multiplier=settings.pop("multiplier", 0.8), **settings)
    scores, _ = apply_processors(
        torch.as_tensor(logits, dtype=torch.float32), torch.tensor(ids), 0, params, is_breaker=lambda t: t in breakers
    )
    return scores


# --- settings -----------------------------------------------------------------------------------------------------


def test_defaults_leave_the_new_processors_off_and_every_field_is_documented():
    defaults = SamplingParams()
    assert not {"dry", "xtc", "mirostat"} & set(enabled(defaults))
    assert enabled(defaults.replace(temperature=1.0)) == ()
    docs = field_docs()
    assert all(docs[name] for name in NEW_FIELDS)
    assert parse_breakers(defaults.dry_sequence_breakers) == ("\n", ":", '"', "*")


def test_scribe_generate_has_a_flag_for_each_new_setting():
    parser = build_parser()
    help_text = parser._subparsers._group_actions[0].choices["generate"].format_help()
    for name in NEW_FIELDS:
        assert "--" + name.replace("_", "-") in help_text
    args = parser.parse_args(
        ["generate", "--dry-multiplier", "0.8", "--dry-sequence-breakers", '"\\n", "."', "--xtc-probability", "0.5",
         "--mirostat-tau", "5"]
    )  # fmt: skip
    params = sampling_from_args(args, SamplingParams())
    assert (params.dry_multiplier, params.xtc_probability, params.mirostat_tau) == (0.8, 0.5, 5.0)
    assert parse_breakers(params.dry_sequence_breakers) == ("\n", ".")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("dry_multiplier", -0.1, "out of range"),
        ("dry_base", 0.5, "out of range"),
        ("dry_allowed_length", 0, "out of range"),
        ("dry_allowed_length", 1.5, "whole number"),
        ("dry_sequence_breakers", "\\n, :", "quoted strings"),
        ("dry_sequence_breakers", '"a", ""', "non-empty"),
        ("dry_sequence_breakers", 3, "expected text"),
        ("xtc_threshold", 1.5, "out of range"),
        ("xtc_probability", -1, "out of range"),
        ("mirostat_tau", -1, "out of range"),
        ("mirostat_eta", 2, "out of range"),
    ],
)
def test_bad_values_are_refused_naming_the_field(name, value, message):
    with pytest.raises(InvalidSetting, match=message) as caught:
        SamplingParams(**{name: value})
    assert str(caught.value).startswith(f"{name}:")


def test_breakers_parse_as_typed_and_round_trip_through_dicts():
    typed = SamplingParams.parse_field("dry_sequence_breakers", ' "\\n", ":", "\\"" ')
    assert parse_breakers(typed) == ("\n", ":", '"')
    params = SamplingParams(dry_multiplier=1.0, dry_sequence_breakers='"."', xtc_probability=0.3, mirostat_tau=4.0)
    assert SamplingParams.from_dict(params.to_dict()) == params


# --- DRY ----------------------------------------------------------------------------------------------------------


def test_dry_penalises_the_token_that_would_extend_a_repeat():
    # ... 1 2 3 [4] ... 1 2 3 -> 4 would extend a 3-token repeat: 0.8 * 1.75 ** (3 - 2)
    scores = dry([0.0] * 6, [1, 2, 3, 4, 1, 2, 3], dry_allowed_length=2, dry_base=1.75)
    assert_close(scores, torch.tensor([0.0, 0.0, 0.0, 0.0, -0.8 * 1.75, 0.0]))


def test_dry_leaves_repeats_up_to_the_allowed_length_alone():
    ids = [1, 2, 3, 4, 1, 2, 3]
    assert_close(dry([0.0] * 6, ids, dry_allowed_length=4), torch.zeros(6))
    assert_close(dry([0.0] * 6, ids, dry_allowed_length=3)[4], torch.tensor(-0.8))


def test_dry_uses_the_longest_match_of_each_follower_and_penalises_every_follower():
    # After "5": followed by 1 (match "5" only, length 1) and by 2 (match "3 5", length 2); context ends "3 5".
    ids = [5, 1, 3, 5, 2, 3, 5]
    scores = dry([1.0] * 6, ids, multiplier=1.0, dry_base=2.0, dry_allowed_length=1)
    assert_close(scores, torch.tensor([1.0, 0.0, -1.0, 1.0, 1.0, 1.0]))


def test_sequence_breakers_end_matches_and_are_never_penalised():
    ids = [1, 2, 3, 4, 1, 2, 3]
    # 2 is a breaker: the match stops before it (length 1 < 2).
    assert_close(dry([0.0] * 6, ids, breakers={2}), torch.zeros(6))
    # The follower 4 is a breaker: never penalised.
    assert_close(dry([0.0] * 6, ids, breakers={4}), torch.zeros(6))
    # The last token is a breaker: nothing is.
    assert_close(dry([0.0] * 6, ids, breakers={3}), torch.zeros(6))


def test_dry_matches_are_capped_at_50_tokens():
    ids = [7] * 80  # every position repeats; the longest match is capped
    scores = dry([0.0] * 8, ids, multiplier=1.0, dry_base=1.1, dry_allowed_length=2)
    assert float(scores[7]) == pytest.approx(-(1.1**48), rel=1e-5)


def dry_reference(logits: list[float], ids: list[int], breakers: set[int], multiplier, base, allowed) -> list[float]:
    """DRY from its description: for each candidate c, the longest n such that the last n tokens also occur earlier
    followed by c, with no breaker among those n tokens and c not a breaker; penalty multiplier * base^(n - allowed)."""
    out = list(logits)
    n_ids = len(ids)
    for c in range(len(logits)):
        if c in breakers or not ids or ids[-1] in breakers:
            continue
        best = 0
        for end in range(n_ids - 1):  # an earlier occurrence ending at `end`, followed by ids[end + 1]
            if ids[end + 1] != c:
                continue
            n = 0
            while n < min(50, end + 1) and ids[end - n] == ids[n_ids - 1 - n] and ids[end - n] not in breakers:
                n += 1
            best = max(best, n)
        if best >= allowed and best > 0:
            out[c] -= multiplier * base ** (best - allowed)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_dry_equals_the_reference_formula_on_random_repetitive_text(seed):
    rng = random.Random(seed)
    vocab = 6
    ids = [rng.randrange(vocab) for _ in range(60)]
    breakers = {rng.randrange(vocab)} if seed % 2 else set()
    logits = [rng.uniform(-2, 2) for _ in range(vocab)]
    settings = {"multiplier": 0.7, "dry_base": 1.5, "dry_allowed_length": 1 + seed % 3}
    scores = dry(logits, ids, breakers, **settings)
    expected = dry_reference(logits, ids, breakers, 0.7, 1.5, 1 + seed % 3)
    assert_close(scores, torch.tensor(expected), rtol=1e-5, atol=1e-5)


def test_the_sampler_finds_breakers_from_token_text_and_dry_turns_greedy_away_from_a_loop():
    ids = torch.tensor([1, 2, 3, 4, 1, 2, 3])
    logits = torch.tensor([0.0, 0.0, 0.0, 0.0, 2.0, 1.5])
    params = SamplingParams(temperature=0.0, dry_multiplier=0.8)
    assert Sampler(params.replace(dry_multiplier=0.0)).step(logits, ids, 7).token_id == 4
    result = Sampler(params).step(logits, ids, 7, alternatives=2, decode=lambda t: f"w{t}")
    assert result.token_id == 5
    assert [(a.token_id, a.removed_by) for a in result.alternatives] == [(4, "greedy"), (5, None)]
    # Token 2's text holds a newline, a default breaker: the repeat is broken, greedy goes back to 4.
    newline = Sampler(params).step(logits, ids, 7, decode=lambda t: "a\nb" if t == 2 else f"w{t}")
    assert newline.token_id == 4


# --- XTC ----------------------------------------------------------------------------------------------------------


def xtc(probs, roll=0.0, threshold=0.1, probability=1.0):
    params = PLAIN.replace(xtc_threshold=threshold, xtc_probability=probability)
    return apply_processors(log_probs(*probs), torch.zeros(0, dtype=torch.long), 0, params, xtc_roll=roll)


def test_xtc_removes_every_top_choice_but_the_least_likely():
    scores, removed = xtc((0.4, 0.3, 0.15, 0.1, 0.05))
    assert torch.isfinite(scores).tolist() == [False, False, False, True, True]
    assert removed["xtc"].tolist() == [True, True, True, False, False]


def test_xtc_does_nothing_with_one_top_choice_or_when_the_roll_misses():
    assert torch.isfinite(xtc((0.85, 0.05, 0.05, 0.05))[0]).all()
    assert torch.isfinite(xtc((0.4, 0.3, 0.3), roll=0.7, probability=0.5)[0]).all()
    assert not torch.isfinite(xtc((0.4, 0.3, 0.3), roll=0.3, probability=0.5)[0]).all()


def xtc_reference(logits: torch.Tensor, threshold: float) -> torch.Tensor:
    """XTC as text-generation-webui's XTCLogitsWarper states it: sort by probability; a token goes when the next token
    in that order also has probability >= threshold."""
    order = logits.argsort(descending=True)
    probs = logits[order].softmax(0)
    remove = torch.zeros_like(probs, dtype=torch.bool)
    remove[:-1] = probs[1:] >= threshold
    return logits.masked_fill(remove.scatter(0, order, remove), -math.inf)


@pytest.mark.parametrize(("seed", "threshold"), [(0, 0.1), (1, 0.05), (2, 0.2), (3, 0.01), (4, 0.0)])
def test_xtc_equals_the_reference_on_random_logits(seed, threshold):
    logits = torch.randn(300, generator=torch.Generator().manual_seed(seed)) * 3
    params = PLAIN.replace(xtc_threshold=threshold, xtc_probability=1.0)
    scores, _ = apply_processors(logits, torch.zeros(0, dtype=torch.long), 0, params)
    assert_close(scores, xtc_reference(logits, threshold))


def test_xtc_acts_on_about_xtc_probability_of_the_steps_reproducibly_and_reports_removals():
    logits = log_probs(0.4, 0.3, 0.2, 0.1)
    params = SamplingParams(temperature=1.0, xtc_probability=0.3, xtc_threshold=0.15, seed=5)

    def run() -> list[bool]:
        sampler = Sampler(params)
        fired = []
        for _ in range(600):
            result = sampler.step(logits, torch.zeros(0, dtype=torch.long), 0, alternatives=4)
            removed = [a.removed_by for a in result.alternatives]
            assert removed in ([None] * 4, ["xtc", "xtc", None, None])
            if removed[0] == "xtc":
                assert result.token_id in (2, 3)
            fired.append(removed[0] == "xtc")
        return fired

    fired = run()
    assert sum(fired) / len(fired) == pytest.approx(0.3, abs=0.06)
    assert run() == fired


# --- mirostat v2 --------------------------------------------------------------------------------------------------


def test_mirostat_cuts_tokens_more_surprising_than_mu_and_keeps_the_most_likely():
    probs = (0.5, 0.25, 0.125, 0.0625, 0.0625)  # surprise 1, 2, 3, 4, 4 bits
    ids = torch.zeros(0, dtype=torch.long)
    scores, removed = apply_processors(log_probs(*probs), ids, 0, PLAIN.replace(mirostat_tau=1.0))  # mu = 2
    assert torch.isfinite(scores).tolist() == [True, True, False, False, False]
    assert removed["mirostat"].tolist() == [False, False, True, True, True]
    scores, _ = apply_processors(log_probs(*probs), ids, 0, PLAIN.replace(mirostat_tau=1.0), mu=0.1)
    assert torch.isfinite(scores).tolist() == [True, False, False, False, False]


def test_the_sampler_updates_mu_from_the_surprise_of_each_chosen_token():
    """mu_{t+1} = mu_t - eta * (-log2 p_t - tau), p_t the chosen token's probability after the cut; mu_0 = 2 tau."""
    logits = torch.randn(200, generator=torch.Generator().manual_seed(0)) * 2
    params = SamplingParams(temperature=1.0, mirostat_tau=3.0, mirostat_eta=0.2, seed=1)
    sampler = Sampler(params)
    mu = 6.0
    assert sampler.mu == mu
    for _ in range(30):
        allowed = logits.softmax(0)
        allowed = (-allowed.log2() <= mu) | (allowed == allowed.max())
        result = sampler.step(logits, torch.zeros(0, dtype=torch.long), 0, alternatives=200)
        assert allowed[result.token_id]
        for alt in result.alternatives:
            assert (alt.removed_by == "mirostat") == (not bool(allowed[alt.token_id]))
        expected = logits.masked_fill(~allowed, -math.inf).softmax(0)[result.token_id]
        assert result.final_prob == pytest.approx(float(expected), rel=1e-5)
        mu -= 0.2 * (-math.log2(result.final_prob) - 3.0)
        assert sampler.mu == pytest.approx(mu)


def test_mirostat_holds_the_average_surprise_near_tau():
    ranks = torch.arange(1, 2001, dtype=torch.float32)
    logits = -1.1 * ranks.log()  # Zipf-like
    sampler = Sampler(SamplingParams(temperature=1.0, mirostat_tau=4.0, mirostat_eta=0.1, seed=3))
    surprises = [
        -math.log2(sampler.step(logits, torch.zeros(0, dtype=torch.long), 0, alternatives=0).final_prob)
        for _ in range(1500)
    ]
    assert sum(surprises[300:]) / len(surprises[300:]) == pytest.approx(4.0, abs=0.3)


def test_greedy_skips_xtc_and_mirostat():
    logits = log_probs(0.4, 0.3, 0.2, 0.1)
    params = SamplingParams(temperature=0.0, xtc_probability=1.0, mirostat_tau=0.5)
    result = Sampler(params).step(logits, torch.zeros(0, dtype=torch.long), 0)
    assert result.token_id == 0 and result.final_prob == 1.0


def test_the_settings_panel_shows_each_new_setting_and_reads_back_what_it_shows():
    from scribe.config import Settings
    from scribe.ui.widgets.settings_panel import format_value, sampling_field_names, updated_settings

    names = sampling_field_names()
    search_fields = ("num_beams", "length_penalty", "early_stopping", "penalty_alpha")
    assert set(NEW_FIELDS + search_fields) <= set(names)
    settings = Settings()
    changed = settings.replace(sampling=settings.sampling.replace(
        dry_multiplier=0.8, dry_sequence_breakers='"\\n", "."', mirostat_tau=5.0, early_stopping="never"))  # fmt: skip
    for current in (settings, changed):
        for name in NEW_FIELDS + search_fields:
            shown = format_value(name, getattr(current.sampling, name))
            assert updated_settings(current, name, shown) == current, name
    assert updated_settings(settings, "early_stopping", "NEVER").sampling.early_stopping == "never"
