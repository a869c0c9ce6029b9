"""CSV import files: the separator read from the header, records streamed by the csv module."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import TextIO

from kirje.domain.errors import Invalid
from kirje.domain.import_rows import PropertyNames, is_address_column, shorten
from kirje.domain.imports import LogSection, RejectedLine
from kirje.files.records import Record

# LianaMailer's own dialect first: it wins a tie.
DELIMITERS = (";", ",", "\t", "|")
DEFAULT_DELIMITER = ";"

# A quoted field may hold newlines, but a runaway quote would swallow the rest of the file into
# one field: the csv module stops it at this size with an error we report for that line.
FIELD_SIZE_LIMIT = 1 << 20


def choose_delimiter(header_line: str, known: PropertyNames) -> str:
    """The separator that splits the header into the most columns Kirje knows.

    A file written with the wrong separator then either is read right or fails on its header
    with a clear message, never imported as one wide column.
    """
    best, best_score = DEFAULT_DELIMITER, 0
    for delimiter in DELIMITERS:
        cells = next(csv.reader([header_line], delimiter=delimiter), [])
        score = sum(1 for cell in cells if is_address_column(cell) or cell.strip() in known)
        if score > best_score:
            best, best_score = delimiter, score
    return best


class CsvRecords:
    """The header and the records of a CSV text stream, each numbered by the file's lines."""

    def __init__(self, text: TextIO, known: PropertyNames) -> None:
        # Blank lines before the header are passed over (and counted, to keep line numbers).
        self.header_line_number = 1
        header_line = text.readline()
        while header_line and not header_line.strip():
            header_line = text.readline()
            self.header_line_number += 1
        if not header_line:
            raise Invalid("the file is empty")
        self.delimiter = choose_delimiter(header_line.rstrip("\r\n"), known)
        self.header = next(csv.reader([header_line], delimiter=self.delimiter))
        # strict: a quote left open at the end of the file, or text after a closing quote, is an
        # error for that line instead of a field that silently swallows what follows.
        self._reader = csv.reader(text, delimiter=self.delimiter, quotechar='"', strict=True)
        self._width = len(self.header)
        csv.field_size_limit(max(csv.field_size_limit(), FIELD_SIZE_LIMIT))

    @property
    def lines_read(self) -> int:
        # The header and what came before it were read before the csv reader started.
        return self._reader.line_num + self.header_line_number

    def __iter__(self) -> Iterator[Record]:
        reader = self._reader
        offset = self.header_line_number
        previous_end = offset
        while True:
            try:
                # A plain for loop over the reader: this runs once per line of a large file.
                for fields in reader:
                    end = reader.line_num + offset
                    if end > previous_end + 1 and len(fields) != self._width:
                        yield previous_end + 1, end, self._misquoted(previous_end + 1, end, fields)
                    elif fields:  # a blank line holds nothing to import or refuse
                        yield previous_end + 1, end, fields
                    previous_end = end
                return
            except csv.Error as error:
                end = reader.line_num + offset
                if end == previous_end:  # the reader cannot move on from this line
                    raise Invalid(f"line {end + 1} cannot be read as CSV: {error}") from None
                yield previous_end + 1, end, self._unreadable(previous_end + 1, end, error)
                previous_end = end

    def _misquoted(self, first: int, last: int, fields: list[str]) -> RejectedLine:
        """A record over several lines that does not fit the header: a stray quote, most likely."""
        reason = (
            f"wrong number of fields ({len(fields)}, header has {self._width}) "
            f"in lines {first}-{last}: a quote is not closed where it should be"
        )
        return RejectedLine(first, LogSection.REJECTED, reason, shorten(";".join(fields)))

    def _unreadable(self, first: int, last: int, error: csv.Error) -> RejectedLine:
        message = str(error)
        if "unexpected end of data" in message:
            message = f"a quote opened on line {first} is not closed (lines {first}-{last})"
        return RejectedLine(first, LogSection.REJECTED, f"unreadable line: {message}", "")
