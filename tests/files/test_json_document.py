"""JSON import documents (importJSONToMailingList): email strings or objects, item N is line N."""

from __future__ import annotations

import json

import pytest

from kirje.domain.errors import Invalid
from kirje.domain.imports import ImportFormat, ImportRow, LogSection, RejectedLine

# The seed's request sample, with a known property list.
SEED_DOCUMENT = json.dumps(
    [
        {"email": "recipient1@example.com", "sms": "+35812345678", "firstname": "v1", "city": "v2"},
        {"email": "recipient2@example.com", "sms": "+35823456789", "firstname": "v1", "city": "v2"},
    ]
)


def test_the_seed_document_reads_as_two_rows(read) -> None:
    result = read(SEED_DOCUMENT, ImportFormat.JSON)
    assert result.rows == [
        ImportRow(1, "recipient1@example.com", "+35812345678", {"firstname": "v1", "city": "v2"}),
        ImportRow(2, "recipient2@example.com", "+35823456789", {"firstname": "v1", "city": "v2"}),
    ]
    assert result.lines_read == 2


def test_a_list_of_email_strings(read) -> None:
    result = read('["a@example.com", "B@Example.com", "nope"]', ImportFormat.JSON)
    assert [(row.line, row.email) for row in result.rows] == [
        (1, "a@example.com"),
        (2, "b@example.com"),
    ]
    assert result.rejected == [
        RejectedLine(3, LogSection.REJECTED, "invalid email address", "nope")
    ]


def test_later_objects_are_matched_by_key_name_not_position(read) -> None:
    document = [
        {"email": "a@example.com", "firstname": "A", "city": "X"},
        {"city": "Y", "email": "b@example.com", "lastname": "B", "firstname": None},
        {"email": "c@example.com", "shoe": 42},
        {"email": "d@example.com", "city": ["list"]},
        7,
    ]
    result = read(json.dumps(document), ImportFormat.JSON)
    assert [(row.line, row.properties) for row in result.rows] == [
        (1, {"firstname": "A", "city": "X"}),
        (2, {"city": "Y", "lastname": "B"}),
    ]
    assert [(line.line, line.reason, line.value) for line in result.rejected] == [
        (3, "unknown property", "shoe"),
        (4, "value of city is not a string or a number", "['list']"),
        (5, "item is neither an email address nor an object", "7"),
    ]


def test_unknown_keys_in_the_first_object_stop_the_import(read) -> None:
    with pytest.raises(Invalid, match=r"the first JSON object names properties .*: shoe"):
        read('[{"email": "a@example.com", "shoe": 1}]', ImportFormat.JSON)


def test_a_first_object_without_email_or_sms_stops_the_import(read) -> None:
    with pytest.raises(Invalid, match="the first JSON object has no email or sms column"):
        read('[{"firstname": "A"}]', ImportFormat.JSON)


def test_numbers_and_booleans_become_text(read) -> None:
    result = read('[{"email":"a@example.com","sms":358401234567,"city":1.5}]', ImportFormat.JSON)
    assert result.rows == [ImportRow(1, "a@example.com", "+358401234567", {"city": "1.5"})]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("", "the file is empty"),
        ('{"email": "a@example.com"}', "must be a list"),
        ('["a@example.com"', "ends before its list is closed"),
        ('["a@example.com" "b@example.com"]', "expected , or ]"),
        ('["a@example.com",]', "after item 1"),
        ('["a@example.com"] x', "text after the end of the list"),
        ('["a@example.com", {"email": }]', "after item 1"),
    ],
)
def test_a_broken_document_is_refused(read, document: str, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        read(document, ImportFormat.JSON)


def test_an_empty_list_imports_nothing(read) -> None:
    result = read(" [ ] ", ImportFormat.JSON)
    assert (result.rows, result.rejected, result.lines_read) == ([], [], 0)


def test_items_split_across_read_chunks_decode_whole(read) -> None:
    emails = [f"user{n}{'x' * (n % 50)}@example.com" for n in range(20_000)]
    document = "[\n" + ",\n".join(json.dumps(email) for email in emails) + "\n]"
    result = read(document, ImportFormat.JSON, batch_size=7_000)
    assert [row.email for row in result.rows] == emails
    assert [len(batch.rows) for batch in result.batches] == [7_000, 7_000, 6_000]


def test_a_number_at_a_chunk_boundary_is_not_cut(read) -> None:
    # Numbers are refused as items, but the line numbers after one must stay right.
    prefix = '["a@example.com", ' + " " * (65536 - 19 - 3)
    document = prefix + '123456, "b@example.com"]'
    result = read(document, ImportFormat.JSON)
    assert [line.value for line in result.rejected] == ["123456"]
    assert [row.line for row in result.rows] == [1, 3]
