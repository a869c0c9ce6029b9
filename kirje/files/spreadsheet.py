"""Spreadsheet import files (.xls, .xlsx, .ods): the first sheet, its first row as the header."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import BinaryIO

import python_calamine

from kirje.domain.errors import Invalid
from kirje.files.records import Record


def cell_text(value: object) -> str:
    """A cell as the text a CSV export would hold: whole numbers without ".0", dates as ISO."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        # Phone numbers and ids are stored as floats: 358401234567.0 must stay 358401234567.
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if value is None:
        return ""
    return str(value)


class SpreadsheetRows:
    """The header and rows of a workbook's first sheet, numbered by the sheet's own rows.

    calamine reads a sheet whole (in Rust, compactly); a sheet has at most about a million rows,
    so that bounds memory as the format itself does.
    """

    def __init__(self, binary: BinaryIO) -> None:
        try:
            workbook = python_calamine.CalamineWorkbook.from_filelike(binary)
            sheet = workbook.get_sheet_by_index(0)
        except (python_calamine.CalamineError, ValueError, IndexError) as error:
            raise Invalid(f"the file is not a readable spreadsheet: {error}") from None
        # calamine starts at the first used row; keep the user's row numbers all the same.
        self._first_row = sheet.start[0] + 1 if sheet.start else 1
        self._rows = sheet.iter_rows()
        header = next(self._rows, None)
        if header is None or not any(cell_text(cell).strip() for cell in header):
            raise Invalid("the file is empty")
        self.header = [cell_text(cell) for cell in header]
        self.lines_read = self._first_row

    def __iter__(self) -> Iterator[Record]:
        row_number = self._first_row
        for cells in self._rows:
            row_number += 1
            self.lines_read = row_number
            fields = [cell_text(cell) for cell in cells]
            if any(fields):
                yield row_number, row_number, fields
