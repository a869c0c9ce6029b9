"""Spreadsheet uploads (type xls): the first sheet, its first row the header, cells as text."""

from __future__ import annotations

import base64
import datetime
import io

import openpyxl
import pytest

from kirje.domain.errors import Invalid
from kirje.domain.imports import ImportFormat, ImportRow, LogSection, RejectedLine
from kirje.files.spreadsheet import cell_text


def _xlsx(rows: list[list[object]], *, extra_sheet: bool = True) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    if extra_sheet:
        workbook.create_sheet("Other").append(["not", "read"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


WORKBOOK = _xlsx(
    [
        ["email", "sms", "firstname", "city"],
        ["ann@example.com", 358401234567, "Ann", datetime.date(2024, 5, 1)],
        [None, None, None, None],
        ["bad@", None, "Bad", None],
        ["bob@example.com", "040 1234567", 12.5, datetime.datetime(2024, 5, 1, 12, 30)],
    ]
)


def test_the_first_sheet_reads_with_row_numbers_and_cells_as_text(read) -> None:
    result = read(WORKBOOK, ImportFormat.XLS)
    assert result.rows == [
        ImportRow(
            2, "ann@example.com", "+358401234567", {"firstname": "Ann", "city": "2024-05-01"}
        ),
        ImportRow(
            5,
            "bob@example.com",
            "+358401234567",
            {"firstname": "12.5", "city": "2024-05-01 12:30:00"},
        ),
    ]
    assert result.rejected == [
        RejectedLine(4, LogSection.REJECTED, "invalid email address", "bad@"),
    ]
    assert result.lines_read == 5


def test_a_base64_workbook_reads_the_same(read) -> None:
    plain = read(WORKBOOK, ImportFormat.XLS)
    encoded = read(base64.b64encode(WORKBOOK), ImportFormat.XLS, base64=True)
    assert encoded.rows == plain.rows


def test_a_sheet_without_an_email_column_is_refused(read) -> None:
    with pytest.raises(Invalid, match="no email or sms column"):
        read(_xlsx([["firstname"], ["Ann"]]), ImportFormat.XLS)


def test_csv_bytes_sent_as_xls_are_refused(read) -> None:
    with pytest.raises(Invalid, match="not a readable spreadsheet"):
        read(b"email\na@example.com\n", ImportFormat.XLS)


def test_an_empty_sheet_is_refused(read) -> None:
    with pytest.raises(Invalid, match="the file is empty"):
        read(_xlsx([], extra_sheet=False), ImportFormat.XLS)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (358401234567.0, "358401234567"),
        (0.1, "0.1"),
        (True, "1"),
        (datetime.date(2020, 2, 29), "2020-02-29"),
        (datetime.time(8, 5), "08:05:00"),
        ("", ""),
    ],
)
def test_cell_values_become_the_text_a_csv_export_would_hold(value, text) -> None:
    assert cell_text(value) == text
