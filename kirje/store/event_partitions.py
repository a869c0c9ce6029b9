"""Monthly partitions of the event store on PostgreSQL.

Events are appended by every import, send and tracking hit and read by time range, so on
PostgreSQL the table is partitioned by month of `at`: a month's rows sit together, and old
months can be detached or dropped whole. Partitions are made ahead of time (this month and
the next ones) by migrate and by every worker's periodic sweep; a default partition takes
rows no month partition covers (events stamped far in the past or future), so an insert never
fails for want of one. A month whose rows already sit in the default partition keeps them
there: PostgreSQL refuses to attach a partition over rows of the default one.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, text

PARTITION_PREFIX = "events_part_"
DEFAULT_PARTITION = f"{PARTITION_PREFIX}default"
MONTHS_AHEAD = 2


def is_event_partition(name: str) -> bool:
    return name.startswith(PARTITION_PREFIX)


def month_start(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def next_month(start: datetime) -> datetime:
    return (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )


def partition_name(start: datetime) -> str:
    return f"{PARTITION_PREFIX}{start.year:04d}_{start.month:02d}"


def ensure_event_partitions(
    conn: Connection, now: datetime, *, since: datetime | None = None
) -> list[str]:
    """Creates the missing month partitions from `since` (default: this month) to
    MONTHS_AHEAD months after `now`; returns the names it created. PostgreSQL only."""
    if conn.dialect.name != "postgresql":
        return []
    existing = set(
        conn.execute(
            text(
                "SELECT child.relname FROM pg_inherits"
                " JOIN pg_class child ON child.oid = pg_inherits.inhrelid"
                " JOIN pg_class parent ON parent.oid = pg_inherits.inhparent"
                " WHERE parent.relname = 'events'"
            )
        ).scalars()
    )
    created = []
    if DEFAULT_PARTITION not in existing:
        conn.exec_driver_sql(
            f"CREATE TABLE IF NOT EXISTS {DEFAULT_PARTITION} PARTITION OF events DEFAULT"
        )
        created.append(DEFAULT_PARTITION)
    start = month_start(since or now)
    last = month_start(now)
    for _ in range(MONTHS_AHEAD):
        last = next_month(last)
    while start <= last:
        name = partition_name(start)
        end = next_month(start)
        if name not in existing and not _default_holds(conn, start, end):
            # Names and bounds are built from dates here, never from input.
            conn.exec_driver_sql(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF events"
                f" FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
            )
            created.append(name)
        start = end
    return created


def _default_holds(conn: Connection, start: datetime, end: datetime) -> bool:
    query = text(f"SELECT 1 FROM {DEFAULT_PARTITION} WHERE at >= :start AND at < :end LIMIT 1")
    return conn.execute(query, {"start": start, "end": end}).first() is not None
