"""The `import` scenario: a generated CSV through the real import job, beside a bare COPY.

It writes a realistic file (email, first and last name, city and two custom properties, in the
seed's `;`-separated dialect), imports it into a new list through the same job an API call
queues, and, in the same run, times PostgreSQL's COPY of the same file into an unindexed table:
the fastest the database itself can take the bytes, which is the baseline.
"""

from __future__ import annotations

import csv
import random
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from kirje.domain.imports import ImportOptions
from kirje.domain.jobs import JobState
from kirje.jobs.runner import run_here
from kirje.services.system import System
from kirje.settings import Settings

FIRST_NAMES = ("Aino", "Eino", "Helmi", "Väinö", "Sofia", "Leo", "Olivia", "Onni", "Ella", "Elias")
LAST_NAMES = ("Korhonen", "Virtanen", "Mäkinen", "Nieminen", "Hämäläinen", "Laine", "Koskinen")
CITIES = ("Helsinki", "Espoo", "Tampere", "Vantaa", "Oulu", "Turku", "Jyväskylä", "Lahti")
TIERS = ("gold", "silver", "bronze", "none")
HEADER = ("email", "firstname", "lastname", "city", "tier", "customer_number")
BASELINE_TABLE = "bench_import_baseline"


@dataclass(frozen=True)
class ImportBenchOptions:
    rows: int


def run_import_bench(options: ImportBenchOptions) -> dict:
    settings = Settings()
    system = System.open(settings)
    system.migrate()
    with tempfile.TemporaryDirectory(prefix="kirje-bench-import-") as folder:
        path = Path(folder) / "contacts.csv"
        _say(f"writing {options.rows} rows to {path}")
        _write_csv(path, options.rows)
        try:
            throughput, counts = _import(system, path, options.rows)
            baseline = _bare_copy(system, path, options.rows)
        finally:
            system.close()
    return {
        "scenario": "import",
        "database": system.db.backend,
        "rows": options.rows,
        "throughput": round(throughput, 1),
        "unit": "rows/s",
        "baseline": round(baseline, 1) if baseline else None,
        "ratio": round(throughput / baseline, 3) if baseline else None,
        "peak_rss_mb": _peak_rss_mb(resource.RUSAGE_SELF),
        # The reader process of a large file (the only child this command waits for).
        "peak_rss_mb_reader_process": _peak_rss_mb(resource.RUSAGE_CHILDREN) or None,
        "new": counts.get("new"),
        "rejected": counts.get("rejected"),
    }


def _write_csv(path: Path, rows: int) -> None:
    chooser = random.Random(7)
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(HEADER)
        for index in range(rows):
            writer.writerow(
                (
                    f"person{index}@example{index % 97}.com",
                    chooser.choice(FIRST_NAMES),
                    chooser.choice(LAST_NAMES),
                    chooser.choice(CITIES),
                    chooser.choice(TIERS),
                    str(100000 + index),
                )
            )


def _import(system: System, path: Path, rows: int) -> tuple[float, dict]:
    account = system.accounts.create("Import bench")
    services = system.for_account(account.account_id)
    for name in ("city", "tier", "customer_number"):
        services.properties.create(name)
    list_id = services.lists.create("Import bench")
    _say(f"importing {rows} rows on {system.db.backend}")
    started = time.perf_counter()
    with open(path, "rb") as source:
        job = services.imports.start(source, ImportOptions(list_id=list_id))
    run_here(system, job.id)
    seconds = time.perf_counter() - started
    finished = services.jobs.get(job.id)
    if finished.state is not JobState.DONE:
        raise RuntimeError(f"the import job failed: {finished.error}")
    result = finished.result if isinstance(finished.result, dict) else {}
    return rows / seconds, result.get("counts", {})


def _bare_copy(system: System, path: Path, rows: int) -> float | None:
    """COPY of the same file into an unindexed table; PostgreSQL only (SQLite has no COPY)."""
    if system.db.backend != "postgresql":
        return None
    columns = ", ".join(f"{name} text" for name in HEADER)
    with system.db.engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {BASELINE_TABLE}"))
        conn.execute(text(f"CREATE TABLE {BASELINE_TABLE} ({columns})"))
    started = time.perf_counter()
    with system.db.engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()
        copy_sql = f"COPY {BASELINE_TABLE} FROM STDIN WITH (FORMAT csv, DELIMITER ';', HEADER)"
        with cursor.copy(copy_sql) as copy, open(path, "rb") as source:
            while chunk := source.read(1 << 20):
                copy.write(chunk)
    seconds = time.perf_counter() - started
    with system.db.engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {BASELINE_TABLE}"))
    return rows / seconds


def _peak_rss_mb(who: int) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def _say(message: str) -> None:
    print(f"kirje bench import: {message}", file=sys.stderr, flush=True)
