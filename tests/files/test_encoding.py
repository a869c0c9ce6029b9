"""Encodings: the same file saved by different tools reads to the same rows."""

from __future__ import annotations

import codecs

import pytest

from kirje.files.encoding import (
    UTF8,
    UTF8_BOM,
    UTF16,
    UTF16_BE,
    UTF16_LE,
    WINDOWS_1252,
    detect_encoding,
)

TEXT = (
    "email;firstname;city\r\nanna@example.com;Äijä Öljy;Hämeenlinna €\r\nbo@example.com;Bo;Åbo\r\n"
)

EXPECTED = [
    ("anna@example.com", {"firstname": "Äijä Öljy", "city": "Hämeenlinna €"}),
    ("bo@example.com", {"firstname": "Bo", "city": "Åbo"}),
]


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        (TEXT.encode("utf-8"), UTF8),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), UTF8_BOM),
        (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), UTF16),
        (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), UTF16),
        (TEXT.encode("utf-16-le"), UTF16_LE),
        (TEXT.encode("utf-16-be"), UTF16_BE),
        (TEXT.encode("cp1252"), WINDOWS_1252),
    ],
    ids=["utf8", "utf8-bom", "utf16le-bom", "utf16be-bom", "utf16le", "utf16be", "cp1252"],
)
def test_each_encoding_is_detected_and_reads_to_the_same_rows(read, encoded, encoding) -> None:
    assert detect_encoding(encoded, is_whole_file=True) == encoding
    result = read(encoded)
    assert result.rejected == []
    assert [(row.email, row.properties) for row in result.rows] == EXPECTED


def test_a_bom_does_not_end_up_in_the_first_column_name(read) -> None:
    result = read(codecs.BOM_UTF8 + b'"email"\nx@example.com\n')
    assert [row.email for row in result.rows] == ["x@example.com"]


def test_a_windows_1252_byte_after_the_sampled_start_is_still_read_as_such(read) -> None:
    # Valid UTF-8 (plain ASCII) for longer than the sample, then one Windows-1252 line.
    filler = "".join(f"user{n}@example.com;Name{n};City\n" for n in range(60_000))
    content = (
        b"email;firstname;city\n" + filler.encode() + "late@example.com;Pät;Köln\n".encode("cp1252")
    )
    assert len(content) > 1 << 20
    result = read(content)
    assert result.rejected == []
    assert result.rows[-1].properties == {"firstname": "Pät", "city": "Köln"}
    assert len(result.rows) == 60_001


def test_a_utf8_character_cut_by_the_sample_end_does_not_make_it_windows_1252() -> None:
    text = "ä".encode()
    assert detect_encoding(b"email;city\n" + text[:1]) == UTF8
    assert detect_encoding(b"email;city\n" + text[:1], is_whole_file=True) == WINDOWS_1252
