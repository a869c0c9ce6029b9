"""v1 positional binding and the coercions real clients need."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kirje.api.liana_mailer.dispatch import V1Method, positional_arguments
from kirje.domain.errors import Invalid


def sample(
    ctx,
    list_id: int,
    flag: bool = False,
    props: dict | None = None,
    ids: list[int] | None = None,
    email: str | None = None,
):
    return list_id, flag, props, ids, email


METHOD = V1Method.of("sample", sample)


@given(st.integers(min_value=-(2**62), max_value=2**62))
def test_integers_arrive_as_numbers_or_numeric_strings(value: int) -> None:
    assert METHOD.bind([value])[0] == value
    assert METHOD.bind([str(value)])[0] == value


@given(
    st.sampled_from(
        [(0, False), (1, True), (True, True), (False, False), ("1", True), ("0", False)]
    )
)
def test_booleans_arrive_as_0_1_or_true_false(pair) -> None:
    sent, expected = pair
    assert METHOD.bind([1, sent])[1] is expected


@given(st.lists(st.integers(min_value=0, max_value=10**9), max_size=20))
def test_integer_lists_accept_strings(ids: list[int]) -> None:
    assert METHOD.bind([1, None, None, [str(i) for i in ids]])[3] == ids


def test_an_empty_php_array_is_an_empty_object() -> None:
    assert METHOD.bind([1, None, []])[2] == {}


def test_false_for_a_string_means_absent() -> None:
    assert METHOD.bind([1, None, None, None, False])[4] is None


def test_null_and_missing_trailing_parameters_take_defaults() -> None:
    assert METHOD.bind([5]) == [5, False, None, None, None]
    assert METHOD.bind([5, None, None, None, None]) == [5, False, None, None, None]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "parameter 1 (list_id) is required"),
        (["x"], "parameter 1 (list_id)"),
        ([1, "maybe"], "parameter 2 (flag)"),
        ([1, None, "text"], "parameter 3 (props)"),
        ([1, None, None, None, None, "extra"], "at most 5 parameters"),
    ],
)
def test_wrong_parameters_name_their_position(arguments: list, message: str) -> None:
    with pytest.raises(Invalid, match=message.replace("(", r"\(").replace(")", r"\)")):
        METHOD.bind(arguments)


@given(st.one_of(st.text(), st.integers(), st.dictionaries(st.text(), st.integers())))
def test_a_bare_body_is_one_parameter(value) -> None:
    assert positional_arguments(value) == [value]


def test_empty_bodies_are_no_parameters() -> None:
    assert positional_arguments(None) == []
    assert positional_arguments([]) == []
