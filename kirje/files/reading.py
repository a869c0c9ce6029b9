"""Reading an uploaded import file into batches of normalised rows and refused lines."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from kirje.domain.errors import Invalid
from kirje.domain.import_rows import (
    ImportBatch,
    PropertyNames,
    map_json_item,
    map_record,
    resolve_header,
)
from kirje.domain.imports import ImportFormat, ImportRow, RejectedLine
from kirje.domain.properties import Property
from kirje.files.base64_stream import Base64Reader, decode_to_temporary_file
from kirje.files.csv_file import CsvRecords
from kirje.files.encoding import open_text
from kirje.files.json_document import JsonItems
from kirje.files.records import Record
from kirje.files.spreadsheet import SpreadsheetRows

DEFAULT_BATCH_SIZE = 20_000

# Maps one record's payload, given its first line, to a row or a refused line.
Mapper = Callable[[Any, int], ImportRow | RejectedLine]


class RecordSource(Protocol):
    lines_read: int

    def __iter__(self) -> Iterator[Record]: ...


def read_import(
    path: str | Path,
    format: ImportFormat,
    known_properties: Iterable[Property] | Iterable[str],
    *,
    base64: bool = False,
    start_after_line: int = 0,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Iterator[ImportBatch]:
    """The file's rows and refused lines in batches of up to `batch_size` lines, in file order.

    A bad header, an empty file or an unreadable document raises Invalid before the first batch,
    so nothing has been imported when it does. Records starting at or before `start_after_line`
    are read but not mapped, for an import resumed after its last committed batch. The last batch
    has `is_last` set, even when it holds nothing, so the caller always learns the line count.
    """
    if batch_size < 1:
        raise Invalid("batch_size must be at least 1")
    try:
        format = ImportFormat(format)
    except ValueError:
        raise Invalid(f"unknown import type {format!r} (one of csv, json, xls)") from None
    known = PropertyNames.of(known_properties)
    with ExitStack() as stack:
        raw: io.RawIOBase = stack.enter_context(open(path, "rb", buffering=0))
        if format is ImportFormat.XLS:
            # A workbook is a zip archive: its reader needs to seek, so Base64 goes to a file.
            binary = stack.enter_context(decode_to_temporary_file(raw)) if base64 else raw
            source, mapper = _spreadsheet(binary, known)
        else:
            if base64:
                raw = Base64Reader(raw)
            text = stack.enter_context(open_text(raw))
            if format is ImportFormat.JSON:
                source, mapper = _json_document(text, known)
            else:
                source, mapper = _csv(text, known)
        yield from _batches(source, mapper, start_after_line, batch_size)


def check_import(
    path: str | Path,
    format: ImportFormat,
    known_properties: Iterable[Property] | Iterable[str],
    *,
    base64: bool = False,
) -> None:
    """Raises Invalid as read_import would for the file as a whole (its encoding, header,
    document shape), reading no further than its first record: for refusing an upload at once."""
    batches = read_import(path, format, known_properties, base64=base64, batch_size=1)
    try:
        next(batches)
    finally:
        batches.close()


def _csv(text: io.TextIOWrapper, known: PropertyNames) -> tuple[RecordSource, Mapper]:
    records = CsvRecords(text, known)
    return records, partial(map_record, resolve_header(records.header, known))


def _spreadsheet(binary, known: PropertyNames) -> tuple[RecordSource, Mapper]:
    rows = SpreadsheetRows(binary)
    return rows, partial(map_record, resolve_header(rows.header, known))


class _PeekedJson:
    """A JSON document whose first item has been read ahead, to check its keys as a header."""

    def __init__(self, items: JsonItems) -> None:
        self._items = items
        self._iterator = iter(items)
        self._first = next(self._iterator, None)

    @property
    def first_item(self) -> object:
        return None if self._first is None else self._first[2]

    @property
    def lines_read(self) -> int:
        return self._items.lines_read

    def __iter__(self) -> Iterator[Record]:
        if self._first is None:
            return iter(())
        return itertools.chain([self._first], self._iterator)


def _json_document(text: io.TextIOWrapper, known: PropertyNames) -> tuple[RecordSource, Mapper]:
    document = _PeekedJson(JsonItems(text))
    if isinstance(document.first_item, dict):
        # The seed maps every object by the first one's keys: those keys are the header, and an
        # unknown one stops the import before it starts. Later objects are matched by key name.
        resolve_header(list(document.first_item), known, source="the first JSON object")
    return document, partial(map_json_item, known=known)


def _batches(
    source: RecordSource, mapper: Mapper, start_after_line: int, batch_size: int
) -> Iterator[ImportBatch]:
    batch = ImportBatch()
    rows, rejected = batch.rows, batch.rejected
    mapped_lines = 0
    last_line = 0
    for first_line, last_line, payload in source:
        if first_line <= start_after_line:
            continue
        mapped = payload if type(payload) is RejectedLine else mapper(payload, first_line)
        if type(mapped) is ImportRow:
            rows.append(mapped)
        else:
            rejected.append(mapped)
        mapped_lines += 1
        if mapped_lines == batch_size:
            batch.last_line, batch.lines_read = last_line, source.lines_read
            yield batch
            batch = ImportBatch()
            rows, rejected = batch.rows, batch.rejected
            mapped_lines = 0
    batch.lines_read = source.lines_read
    # The whole file is covered now, trailing blank lines and skipped records included.
    batch.last_line = max(last_line, source.lines_read, start_after_line)
    batch.is_last = True
    yield batch
