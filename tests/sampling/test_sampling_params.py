"""SamplingParams validation and parsing: bad values raise InvalidSetting naming the field."""

from __future__ import annotations

import pytest

from scribe.sampling.params import InvalidSetting, SamplingParams, field_docs


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("temperature", -0.1, "out of range"),
        ("temperature", float("nan"), "finite"),
        ("temperature", "hot", "expected a number"),
        ("top_k", -1, "out of range"),
        ("top_k", 2.5, "whole number"),
        ("top_k", True, "expected a number"),
        ("top_p", 1.5, "between 0.0 and 1.0"),
        ("min_p", -0.2, "out of range"),
        ("typical_p", 2, "out of range"),
        ("repetition_penalty", 0.0, "out of range"),
        ("frequency_penalty", 3.0, "out of range"),
        ("presence_penalty", -2.5, "out of range"),
        ("no_repeat_ngram_size", 21, "out of range"),
        ("max_new_tokens", 0, "out of range"),
        ("seed", -1, "out of range"),
        ("top_k", -3, "at least 0"),
    ],
)
def test_bad_values_raise_invalid_setting_naming_the_field(name, value, message):
    with pytest.raises(InvalidSetting, match=message) as caught:
        SamplingParams(**{name: value})
    assert str(caught.value).startswith(f"{name}:")


def test_good_values_are_normalised():
    params = SamplingParams(temperature=1, top_k=40.0, stop="\n\n", seed=None)
    assert params.temperature == 1.0 and isinstance(params.temperature, float)
    assert params.top_k == 40 and isinstance(params.top_k, int)
    assert params.stop == ("\n\n",)
    assert SamplingParams(temperature=0).greedy and not params.greedy


def test_stop_strings_must_be_non_empty():
    with pytest.raises(InvalidSetting, match="^stop:"):
        SamplingParams(stop=("END", ""))


def test_replace_validates_and_dicts_round_trip():
    params = SamplingParams(top_p=0.9, stop=("END",), seed=3)
    with pytest.raises(InvalidSetting, match="^top_p:"):
        params.replace(top_p=2.0)
    assert SamplingParams.from_dict(params.to_dict()) == params
    with pytest.raises(InvalidSetting, match="unknown sampling setting.*colour"):
        SamplingParams.from_dict({"colour": 1})


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("temperature", " 0.7 ", 0.7),
        ("top_k", "40", 40),
        ("seed", "random", None),
        ("seed", "", None),
        ("seed", "12", 12),
        ("stop", r"\n\n|END", ("\n\n", "END")),
        ("stop", "", ()),
    ],
)
def test_parse_field_reads_what_a_user_types(name, text, value):
    assert SamplingParams.parse_field(name, text) == value


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("top_k", "forty", "^top_k: 'forty' is not a whole number"),
        ("temperature", "warm", "^temperature: 'warm' is not a number"),
        ("top_k", "4.5", "^top_k:"),
        ("top_p", "1.2", "^top_p: .*out of range"),
        ("colour", "1", "unknown sampling setting: colour"),
    ],
)
def test_parse_field_refuses_bad_text_naming_the_field(name, text, message):
    with pytest.raises(InvalidSetting, match=message):
        SamplingParams.parse_field(name, text)


def test_every_field_is_documented():
    docs = field_docs()
    assert set(docs) == set(SamplingParams.__dataclass_fields__)
    assert all(docs.values())
