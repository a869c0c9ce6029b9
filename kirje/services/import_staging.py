"""An import file read into batches ready to stage: in the job's process, or, for a large file
on PostgreSQL, in a reader process beside it (kirje.child_iteration), which parses, validates
and encodes the next batch while the job's process COPYs and commits the last one.

Light on imports (no SQLAlchemy): the reader process starts by importing this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kirje.domain.import_rows import split_by_domain
from kirje.domain.imports import ImportFormat, ImportRow, RejectedLine
from kirje.domain.properties import Property
from kirje.files import read_import
from kirje.files.reading import DEFAULT_BATCH_SIZE
from kirje.store.staging_copy import encode_staging_rows


@dataclass(frozen=True)
class StagingRead:
    """What to read, and for which job (picklable: a reader process is given it)."""

    path: Path
    format: ImportFormat
    properties: list[Property]
    base64: bool
    start_after_line: int
    allowed_domains: frozenset[str]
    job_id: int
    # Whether rows come encoded for PostgreSQL's COPY (store.staging_copy), not as ImportRows.
    encoded: bool
    batch_size: int = DEFAULT_BATCH_SIZE


@dataclass(frozen=True)
class StagingBatch:
    """One batch of the file: the rows to stage (or their COPY encoding) and the lines refused
    (by the reader, or for a domain the account does not allow)."""

    rows: list[ImportRow] | bytes
    rejected: list[RejectedLine]
    # As in kirje.domain.import_rows.ImportBatch: where a resumed import starts, and the
    # lines read so far.
    last_line: int
    lines_read: int


def staging_batches(read: StagingRead) -> Iterator[StagingBatch]:
    for batch in read_import(
        read.path,
        read.format,
        read.properties,
        base64=read.base64,
        start_after_line=read.start_after_line,
        batch_size=read.batch_size,
    ):
        rows, outside = split_by_domain(batch.rows, read.allowed_domains)
        yield StagingBatch(
            rows=encode_staging_rows(read.job_id, rows) if read.encoded else rows,
            rejected=[*batch.rejected, *outside],
            last_line=batch.last_line,
            lines_read=batch.lines_read,
        )
