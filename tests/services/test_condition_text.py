"""The dynamic-list condition parser on raw text: whatever arrives, the answer is a condition or
Invalid, and Invalid says where (character offset of bad JSON, index of a bad clause)."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kirje.domain.conditions import ListCondition, Operator, condition_text, parse_condition
from kirje.domain.errors import Invalid

# Text a condition may legitimately hold: no NUL, no lone surrogate.
SAFE_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
NAMES = SAFE_TEXT.filter(bool)
IN_ITEMS = st.lists(
    st.one_of(SAFE_TEXT.filter(lambda s: s.strip()), st.integers()), min_size=1, max_size=4
)
SINGLE_VALUE = st.one_of(
    SAFE_TEXT, st.integers(-(10**12), 10**12), st.floats(allow_nan=False, allow_infinity=False)
)


@st.composite
def clauses(draw) -> dict:
    operator = draw(st.sampled_from(list(Operator)))
    value = draw(IN_ITEMS if operator is Operator.IN else SINGLE_VALUE)
    return {"name": draw(NAMES), "condition": operator.value, "value": value}


DOCUMENTS = st.fixed_dictionaries(
    {"conditions": st.lists(clauses(), min_size=1, max_size=4)},
    optional={"enabled": st.booleans()},
)


def _outcome(text: str) -> ListCondition | Invalid:
    """The parse result or the Invalid raised; any other exception fails the test."""
    try:
        return parse_condition(text)
    except Invalid as error:
        return error


def _json_syntax_error(text: str) -> json.JSONDecodeError | None:
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return error
    except (ValueError, RecursionError):
        return None
    return None


def _assert_names_position_of_bad_json(text: str, outcome: ListCondition | Invalid) -> None:
    syntax_error = _json_syntax_error(text)
    if syntax_error is not None:
        assert isinstance(outcome, Invalid), f"{text!r} is not JSON but parsed"
        assert f"at character {syntax_error.pos}" in str(outcome)


@settings(max_examples=400)
@given(st.text())
def test_arbitrary_text_is_a_condition_or_invalid(text: str) -> None:
    _assert_names_position_of_bad_json(text, _outcome(text))


@settings(max_examples=300)
@given(st.text(alphabet='{}[]":,0123456789.-truefalsnl \\conditions'))
def test_json_like_noise_is_a_condition_or_invalid(text: str) -> None:
    _assert_names_position_of_bad_json(text, _outcome(text))


@given(DOCUMENTS)
def test_valid_texts_parse(document: dict) -> None:
    for text in (json.dumps(document), json.dumps(document, ensure_ascii=False, indent=2)):
        parsed = parse_condition(text)
        assert len(parsed.clauses) == len(document["conditions"])
        assert parsed.is_enabled is document.get("enabled", True)


@given(DOCUMENTS)
def test_a_condition_round_trips_through_its_text(document: dict) -> None:
    parsed = parse_condition(json.dumps(document))
    again = parse_condition(condition_text(parsed))
    assert again == parsed
    assert condition_text(again) == condition_text(parsed)


BRACKET_SWAPS = {"{": "[", "[": "{", "}": "]", "]": "}", '"': "'"}


@st.composite
def mutated_texts(draw) -> str:
    """A valid condition text with characters deleted, duplicated, swapped or inserted."""
    text = json.dumps(draw(DOCUMENTS))
    for _ in range(draw(st.integers(1, 3))):
        if not text:
            break
        at = draw(st.integers(0, len(text) - 1))
        kind = draw(st.sampled_from(["delete", "duplicate", "swap", "insert"]))
        if kind == "delete":
            text = text[:at] + text[at + 1 :]
        elif kind == "duplicate":
            text = text[: at + 1] + text[at:]
        elif kind == "swap":
            text = text[:at] + BRACKET_SWAPS.get(text[at], "}") + text[at + 1 :]
        else:
            text = text[:at] + draw(st.sampled_from('{}[]",:\\0x ')) + text[at:]
    return text


@settings(max_examples=500)
@given(mutated_texts())
def test_mutated_conditions_are_conditions_or_invalid_with_a_position(text: str) -> None:
    _assert_names_position_of_bad_json(text, _outcome(text))


WRONG_VALUES = st.sampled_from([None, 5, 1.5, True, [], {}, {"a": 1}, [[1]], "x"])


@st.composite
def documents_with_one_bad_clause(draw) -> tuple[dict, int]:
    document = draw(DOCUMENTS)
    index = draw(st.integers(0, len(document["conditions"]) - 1))
    clause = dict(document["conditions"][index])
    spoil = draw(st.sampled_from(["name", "condition", "value", "extra", "missing", "whole"]))
    if spoil == "name":
        clause["name"] = draw(WRONG_VALUES.filter(lambda v: not isinstance(v, str)))
    elif spoil == "condition":
        clause["condition"] = draw(st.one_of(WRONG_VALUES, st.just("like")))
    elif spoil == "value":
        clause["value"] = draw(st.sampled_from([None, True, {}, {"a": 1}, [[1]], [None]]))
    elif spoil == "extra":
        clause["unknown"] = 1
    elif spoil == "missing":
        del clause[draw(st.sampled_from(["name", "condition", "value"]))]
    else:
        clause = draw(st.sampled_from([None, 5, "clause", []]))
    document["conditions"][index] = clause
    return document, index


@settings(max_examples=300)
@given(documents_with_one_bad_clause())
def test_a_bad_clause_is_named_by_its_index(case: tuple[dict, int]) -> None:
    document, index = case
    outcome = _outcome(json.dumps(document))
    assert isinstance(outcome, Invalid)
    assert f"conditions[{index}]" in str(outcome)


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("", 0),
        ('{"conditions": [', 16),
        ('{"conditions": [{"name": "a", "condition": "=", "value": "b"}]', 62),
        ('{"conditions": [{"name": "a" "condition": "=", "value": "b"}]}', 29),
        ('{"conditions": NaN}', 15),
        ('{"conditions": []}x', 18),
        ('{"conditions": [1, 2}', 20),
        ('{"äö": [1, 2', 12),
    ],
)
def test_malformed_json_names_the_character(text: str, position: int) -> None:
    with pytest.raises(Invalid, match=rf"at character {position}\b"):
        parse_condition(text)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a\nb", "not comma-separated"),
        ("\x00", "NUL"),
    ],
)
def test_values_that_cannot_be_stored_are_invalid(value: str, message: str) -> None:
    condition = {"conditions": [{"name": "city", "condition": "in", "value": value}]}
    with pytest.raises(Invalid, match=re.escape("conditions[0]") + ".*" + message):
        parse_condition(json.dumps(condition))


def test_lone_surrogates_are_invalid_with_their_position() -> None:
    with pytest.raises(Invalid, match="at character 3"):
        parse_condition('{"a\ud800": 1}')
    escaped = '{"conditions": [{"name": "a", "condition": "=", "value": "\\ud800"}]}'
    with pytest.raises(Invalid, match="not valid JSON at character"):
        parse_condition(escaped)
