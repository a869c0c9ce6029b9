"""Helpers for the file reading tests: write a file, read it whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from kirje.domain.import_rows import ImportBatch
from kirje.domain.imports import ImportFormat, ImportRow, RejectedLine
from kirje.files import read_import

PROPERTIES = ["firstname", "lastname", "city"]


class ReadAll:
    """Every row and refused line of a file, with the batches' figures."""

    def __init__(self, batches: list[ImportBatch]) -> None:
        self.batches = batches
        self.rows: list[ImportRow] = [row for batch in batches for row in batch.rows]
        self.rejected: list[RejectedLine] = [line for batch in batches for line in batch.rejected]
        self.lines_read = batches[-1].lines_read


@pytest.fixture
def read(tmp_path: Path):
    def read_file(
        content: bytes | str,
        format: ImportFormat = ImportFormat.CSV,
        *,
        properties=PROPERTIES,
        **options,
    ) -> ReadAll:
        path = tmp_path / "upload"
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return ReadAll(list(read_import(path, format, properties, **options)))

    return read_file
