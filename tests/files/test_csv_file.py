"""CSV uploads: LianaMailer's dialect and the ones real exports use, read line by line."""

from __future__ import annotations

import base64

import pytest

from kirje.domain.errors import Invalid
from kirje.domain.imports import ImportRow, LogSection, RejectedLine

# The seed's PHP import example, byte for byte (a heredoc: no newline after the last line).
SEED_CSV = '"email";"firstname";"lastname"\n' + "\n".join(
    f'"recipient+{n}@example.com";"John{n}";"Doe{n}"' for n in range(1, 11)
)


def test_the_seed_example_gives_ten_rows(read) -> None:
    result = read(SEED_CSV)
    assert result.rejected == []
    assert [row.line for row in result.rows] == list(range(2, 12))
    assert result.rows[0] == ImportRow(
        2, "recipient+1@example.com", None, {"firstname": "John1", "lastname": "Doe1"}
    )
    assert result.rows[9].properties == {"firstname": "John10", "lastname": "Doe10"}
    assert result.lines_read == 11


def test_the_seed_example_base64_encoded_as_the_php_client_sends_it(read) -> None:
    encoded = base64.b64encode(SEED_CSV.encode())
    assert [row.email for row in read(encoded, base64=True).rows] == [
        f"recipient+{n}@example.com" for n in range(1, 11)
    ]


def test_base64_with_line_breaks_and_no_padding_decodes(read) -> None:
    encoded = base64.encodebytes(SEED_CSV.encode()).rstrip(b"=\n")
    assert len(read(encoded, base64=True).rows) == 10


def test_text_that_is_not_base64_is_refused(read) -> None:
    with pytest.raises(Invalid, match="not valid Base64"):
        read(b"email\n*not base64*", base64=True)


@pytest.mark.parametrize(
    ("delimiter", "newline"),
    [(";", "\n"), (",", "\r\n"), ("\t", "\n"), ("|", "\r\n"), (",", "\n")],
)
def test_the_separator_is_read_from_the_header(read, delimiter: str, newline: str) -> None:
    lines = [
        delimiter.join(["email", "firstname", "city"]),
        delimiter.join(["ann@example.com", "Ann", "Turku"]),
        delimiter.join(["bob@example.com", "", "Oulu"]),
    ]
    result = read(newline.join(lines) + newline)
    assert result.rejected == []
    assert [(row.email, row.properties) for row in result.rows] == [
        ("ann@example.com", {"firstname": "Ann", "city": "Turku"}),
        ("bob@example.com", {"city": "Oulu"}),
    ]
    assert result.lines_read == 3


def test_a_comma_file_whose_header_is_unknown_is_refused_not_read_as_one_column(read) -> None:
    with pytest.raises(Invalid, match=r"no email or sms column; its header is: 'mail,name'"):
        read("mail,name\nann@example.com,Ann\n")


def test_a_header_without_email_or_sms_is_refused(read) -> None:
    with pytest.raises(Invalid, match="the file has no email or sms column"):
        read("firstname;lastname\nAnn;Smith\n")


def test_a_header_naming_unknown_properties_names_them_all(read) -> None:
    with pytest.raises(Invalid, match="does not have: shoe size, id") as error:
        read("email;firstname;shoe size;id\na@example.com;A;42;1\n")
    assert "its properties: city, firstname, lastname" in error.value.message


def test_header_names_match_properties_by_case_and_visible_name(read) -> None:
    from kirje.domain.properties import Property, PropertyDatatype, PropertyType

    city = Property(
        1,
        1,
        "city",
        "Home town",
        "FI",
        PropertyType.TEXT,
        PropertyDatatype.TEXT,
        [],
        False,
        False,
        1,
    )
    result = read("EMAIL;home TOWN\na@example.com;Vaasa\n", properties=[city])
    assert result.rows[0].properties == {"city": "Vaasa"}


def test_a_column_named_twice_is_refused(read) -> None:
    with pytest.raises(Invalid, match="names firstname twice"):
        read("email;firstname;FirstName\na@example.com;A;B\n")


def test_an_empty_file_is_refused(read) -> None:
    for content in (b"", b"\n", b"\xef\xbb\xbf"):
        with pytest.raises(Invalid, match="the file is empty"):
            read(content)


def test_a_header_only_file_imports_nothing(read) -> None:
    result = read('"email";"firstname"\n')
    assert (result.rows, result.rejected, result.lines_read) == ([], [], 1)
    assert result.batches[-1].is_last


def test_lines_with_extra_or_missing_fields_are_refused_with_their_numbers(read) -> None:
    result = read("email;firstname\na@example.com;A\nb@example.com\nc@example.com;C;extra\n")
    assert [row.line for row in result.rows] == [2]
    assert result.rejected == [
        RejectedLine(
            3, LogSection.REJECTED, "wrong number of fields (1, header has 2)", "b@example.com"
        ),
        RejectedLine(
            4,
            LogSection.REJECTED,
            "wrong number of fields (3, header has 2)",
            "c@example.com;C;extra",
        ),
    ]


def test_a_quoted_newline_keeps_the_record_on_its_first_line(read) -> None:
    result = read('email;city\n"a@example.com";"two\nline city"\nb@example.com;Oulu\n')
    assert [(row.line, row.properties["city"]) for row in result.rows] == [
        (2, "two\nline city"),
        (4, "Oulu"),
    ]
    assert result.lines_read == 4


def test_crlf_line_breaks_inside_quotes_are_kept_and_counted_once(read) -> None:
    result = read('email;city\r\n"a@example.com";"x\r\ny"\r\nbad;Oulu\r\n')
    assert result.rows[0].properties == {"city": "x\r\ny"}
    assert result.rejected[0].line == 4


def test_blank_lines_are_skipped_but_counted(read) -> None:
    result = read("email\na@example.com\n\n\nb@example.com\n\n")
    assert [row.line for row in result.rows] == [2, 5]
    assert result.rejected == []
    assert result.lines_read == 6


def test_bad_addresses_and_empty_lines_are_refused_with_reasons(read) -> None:
    result = read("email;sms;firstname\nnot-an-address;;A\n;12;B\n;;C\n;+358401234567;D\n")
    assert result.rejected == [
        RejectedLine(2, LogSection.REJECTED, "invalid email address", "not-an-address"),
        RejectedLine(3, LogSection.REJECTED, "invalid SMS number", "12"),
        RejectedLine(4, LogSection.EMPTY, "no email or SMS", ""),
    ]
    assert result.rows == [ImportRow(5, None, "+358401234567", {"firstname": "D"})]


def test_a_resumed_read_skips_what_was_committed(read) -> None:
    content = "email\n" + "".join(f"u{n}@example.com\n" for n in range(10))
    batches = read(content, batch_size=4).batches
    assert [len(batch.rows) for batch in batches] == [4, 4, 2]
    assert [batch.last_line for batch in batches] == [5, 9, 11]
    assert batches[-1].is_last and not batches[0].is_last
    resumed = read(content, batch_size=4, start_after_line=batches[0].last_line)
    assert [row.line for row in resumed.rows] == list(range(6, 12))
    assert resumed.lines_read == 11


def test_a_quote_left_open_is_refused_on_its_line_not_silently_merged(read) -> None:
    result = read('email;city\nz@example.com;Pori\na@example.com;"open\nb@example.com;Oulu\n')
    assert [row.line for row in result.rows] == [2]
    assert result.rejected == [
        RejectedLine(
            3,
            LogSection.REJECTED,
            "unreadable line: a quote opened on line 3 is not closed (lines 3-4)",
            "",
        )
    ]


def test_a_stray_quote_that_closes_later_names_the_lines_it_spans(read) -> None:
    result = read('email;city\na@example.com;"x\nb@example.com;y";z\nc@example.com;Oulu\n')
    assert [row.line for row in result.rows] == [4]
    assert result.rejected[0].line == 2
    assert result.rejected[0].reason == (
        "wrong number of fields (3, header has 2) in lines 2-3: "
        "a quote is not closed where it should be"
    )


def test_text_after_a_closing_quote_is_refused_for_that_line_only(read) -> None:
    result = read('email;city\n"a@example.com"x;Oulu\nb@example.com;Pori\n')
    assert [row.line for row in result.rows] == [3]
    assert result.rejected[0].line == 2
    assert result.rejected[0].reason.startswith("unreadable line: ")


def test_blank_lines_before_the_header_keep_the_line_numbers(read) -> None:
    result = read("\r\n\r\nemail;firstname\r\na@example.com;A\r\nbad;B\r\n")
    assert [row.line for row in result.rows] == [4]
    assert [line.line for line in result.rejected] == [5]
    assert result.lines_read == 5


def test_check_import_refuses_a_bad_file_at_once_and_passes_a_good_one(tmp_path) -> None:
    from kirje.domain.imports import ImportFormat
    from kirje.files import check_import

    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(SEED_CSV)
    bad.write_text("name;city\nAnn;Oulu\n")
    check_import(good, ImportFormat.CSV, ["firstname", "lastname"])
    with pytest.raises(Invalid, match="no email or sms column"):
        check_import(bad, "csv", ["firstname", "lastname"])


def test_an_unknown_import_type_is_refused(read) -> None:
    with pytest.raises(Invalid, match="unknown import type 'pdf'"):
        read("email\na@example.com\n", "pdf")
