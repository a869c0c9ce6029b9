"""Import row mapping: whatever a file holds, each data line becomes a row or a refused line."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kirje.domain.contacts import normalize_email, quick_normalized_email
from kirje.domain.errors import Invalid
from kirje.domain.import_rows import (
    ImportHeader,
    PropertyNames,
    map_json_item,
    map_record,
    resolve_header,
)
from kirje.domain.imports import ImportRow, LogSection, RejectedLine

KNOWN = PropertyNames.of(["firstname", "lastname", "city"])
CELL = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
COLUMN = st.one_of(
    st.sampled_from(["email", "EMAIL", "sms", "firstname", "City", "lastname", "", "id", "shoe"]),
    CELL,
)


@settings(max_examples=300, deadline=None)
@given(header=st.lists(COLUMN, min_size=1, max_size=6), data=st.data())
def test_any_header_and_rows_give_rows_or_refusals_that_add_up(header, data) -> None:
    try:
        resolved = resolve_header(header, KNOWN)
    except Invalid:
        return
    records = data.draw(st.lists(st.lists(CELL, max_size=8), max_size=20))
    mapped = [map_record(resolved, fields, line) for line, fields in enumerate(records, start=2)]
    rows = [item for item in mapped if isinstance(item, ImportRow)]
    refused = [item for item in mapped if isinstance(item, RejectedLine)]
    assert len(rows) + len(refused) == len(records)
    assert [item.line for item in mapped] == list(range(2, len(records) + 2))
    for row in rows:
        assert row.email or row.sms
        assert all(row.properties.values())
        assert set(row.properties) <= {"firstname", "lastname", "city"}


ATEXT = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-"
LOCAL = st.lists(st.text(ATEXT, min_size=1, max_size=10), min_size=1, max_size=3).map(".".join)
DOMAIN = st.one_of(
    st.sampled_from(
        [
            "example.com",
            "EXAMPLE.fi",
            "a.b",
            "localhost",
            "xn--bcher-kva.example",
            "x..y",
            "-bad.com",
            "bücher.example",
            "1.2.3.4",
            "[127.0.0.1]",
            "ex_ample.com",
            "com",
        ]
    ),
    st.text(string.ascii_letters + string.digits + ".-", min_size=1, max_size=20),
)
ADDRESS = st.one_of(
    st.builds(lambda local, domain: f"{local}@{domain}", LOCAL, DOMAIN),
    st.text(max_size=30),
    st.sampled_from(
        ['"quoted local"@example.com', "ä@example.com", "a@@b.com", "a" * 65 + "@x.com"]
    ),
)


def _reference(address: str) -> str | None:
    try:
        return normalize_email(address)
    except Invalid:
        return None


@settings(max_examples=500, deadline=None)
@given(ADDRESS)
def test_the_fast_email_path_agrees_with_normalize_email(address: str) -> None:
    assert quick_normalized_email(address.strip()) == _reference(address.strip())


def test_addresses_are_normalised_like_the_contact_api() -> None:
    header = resolve_header(["email", "sms", "firstname"], KNOWN)
    row = map_record(header, [" Ann@Example.COM ", "040 1234567", " Ann "], 7)
    assert row == ImportRow(7, "ann@example.com", "+358401234567", {"firstname": " Ann "})


def test_empty_property_cells_are_left_out_not_written_empty() -> None:
    header = resolve_header(["email", "firstname", "lastname"], KNOWN)
    assert map_record(header, ["a@example.com", "", "Smith"], 2).properties == {"lastname": "Smith"}
    assert map_record(header, ["a@example.com", "", ""], 3).properties == {}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (["a@example.com"], ("wrong number of fields (1, header has 3)", "a@example.com")),
        (["a@", "", "A"], ("invalid email address", "a@")),
        (["", "12", "A"], ("invalid SMS number", "12")),
        (["a@example.com", "+358", "A"], ("invalid SMS number", "+358")),
        (["a@example.com", "", "x" * 70_000], ("value of firstname is too long", "x" * 77 + "...")),
    ],
)
def test_each_refusal_says_why_and_shows_the_value(fields, expected) -> None:
    header = resolve_header(["email", "sms", "firstname"], KNOWN)
    refused = map_record(header, fields, 9)
    assert isinstance(refused, RejectedLine)
    assert (refused.line, refused.section) == (9, LogSection.REJECTED)
    assert (refused.reason, refused.value) == expected


def test_a_line_without_address_is_listed_as_empty() -> None:
    header = resolve_header(["email", "sms", "firstname"], KNOWN)
    assert map_record(header, ["", " ", "A"], 3) == RejectedLine(
        3, LogSection.EMPTY, "no email or SMS", ""
    )


def test_columns_without_a_name_are_ignored() -> None:
    header = resolve_header(["email", "firstname", ""], KNOWN)
    assert header == ImportHeader(3, 0, None, ((1, "firstname"),))
    assert map_record(header, ["a@example.com", "A", "junk"], 2).properties == {"firstname": "A"}


def test_reserved_names_are_not_properties_even_if_defined() -> None:
    with pytest.raises(Invalid, match="does not have: id"):
        resolve_header(["email", "id"], PropertyNames.of(["id"]))


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(
                st.sampled_from(["email", "sms", "city", "x"]) | CELL, inner, max_size=4
            ),
        ),
        max_leaves=8,
    )
)
def test_any_json_item_gives_a_row_or_a_refusal(item) -> None:
    mapped = map_json_item(item, 4, KNOWN)
    assert isinstance(mapped, ImportRow | RejectedLine)
    assert mapped.line == 4
