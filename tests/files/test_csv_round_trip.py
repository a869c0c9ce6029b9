"""Any table written by a CSV writer reads back line for line, or fails as a whole with Invalid."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from kirje.domain.errors import Invalid
from kirje.domain.imports import ImportFormat, ImportRow
from kirje.files import read_import

KNOWN = ["firstname", "lastname", "city"]
CELL = st.one_of(
    st.sampled_from(["a@example.com", "B@Example.fi", "+358401234567", "040 123", "", " x "]),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), max_size=8),
)
HEADER = st.lists(
    st.sampled_from(["email", "sms", "firstname", "lastname", "City", ""]),
    min_size=1,
    max_size=5,
    unique=True,
)


@settings(max_examples=150, deadline=None)
@given(
    header=HEADER,
    data=st.data(),
    delimiter=st.sampled_from([";", ",", "\t", "|"]),
    line_end=st.sampled_from(["\n", "\r\n"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
)
def test_written_tables_read_back(header, data, delimiter, line_end, encoding) -> None:
    records = data.draw(
        st.lists(st.lists(CELL, min_size=len(header), max_size=len(header)), max_size=12)
    )
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=line_end, quoting=csv.QUOTE_ALL)
    writer.writerow(header)
    writer.writerows(records)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "upload.csv"
        path.write_bytes(out.getvalue().encode(encoding))
        try:
            batches = list(read_import(path, ImportFormat.CSV, KNOWN, batch_size=5))
        except Invalid as error:
            # Only a header without an address column may fail the whole file here.
            assert "email" not in header and "sms" not in header, error
            return
    rows = [row for batch in batches for row in batch.rows]
    rejected = [line for batch in batches for line in batch.rejected]
    assert len(rows) + len(rejected) == len(records)
    lines = sorted([row.line for row in rows] + [line.line for line in rejected])
    assert len(set(lines)) == len(lines)
    columns = [name.casefold() for name in header]
    for row in rows:
        assert isinstance(row, ImportRow)
        # Which record: count the records (and their line breaks) before this line.
        record = records[_record_index(records, row.line)]
        for name, value in row.properties.items():
            assert value == record[columns.index(name)]


def _record_index(records: list[list[str]], line: int) -> int:
    current = 2
    for index, record in enumerate(records):
        if current == line:
            return index
        current += 1 + sum(cell.count("\n") for cell in record)
    raise AssertionError(f"no record starts on line {line}")
