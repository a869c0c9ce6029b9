"""A large upload passes through with flat memory: it is never held whole, decoded or mapped."""

from __future__ import annotations

import base64
import tracemalloc
from pathlib import Path

from kirje.domain.imports import ImportFormat
from kirje.files import read_import

LINES = 100_000
BATCH_SIZE = 2_000
# Well below the file's own size (27 MB, 36 MB as Base64): what two batches and the buffers take.
MEMORY_BOUND = 10 << 20
NOTE = "x" * 200  # long lines: many megabytes with few rows, so the test stays quick


def _write_base64_csv(path: Path) -> int:
    """A generated CSV file, Base64 encoded in 76-character lines as the PHP client may send it."""
    plain = path.with_suffix(".csv")
    with plain.open("w", encoding="utf-8", newline="\n") as out:
        out.write('"email";"firstname";"lastname";"city"\n')
        for n in range(LINES):
            out.write(
                f'"person{n}@mail{n % 500}.example.com";"Äijö{n}";"Lastname{n}";"{NOTE}{n}"\n'
            )
    with plain.open("rb") as source, path.open("wb") as out:
        while chunk := source.read(57 * 1024):
            out.write(base64.encodebytes(chunk))
    return plain.stat().st_size


def test_a_large_base64_csv_streams_with_flat_memory(tmp_path: Path) -> None:
    path = tmp_path / "upload.b64"
    plain_size = _write_base64_csv(path)
    assert plain_size > 2.5 * MEMORY_BOUND
    rows = rejected = 0
    last_line = 0
    tracemalloc.start()
    try:
        for batch in read_import(
            path,
            ImportFormat.CSV,
            ["firstname", "lastname", "city"],
            base64=True,
            batch_size=BATCH_SIZE,
        ):
            rows += len(batch.rows)
            rejected += len(batch.rejected)
            last_line = batch.last_line
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (rows, rejected, last_line) == (LINES, 0, LINES + 1)
    assert peak < MEMORY_BOUND, f"peak traced memory {peak / 1e6:.1f} MB"
