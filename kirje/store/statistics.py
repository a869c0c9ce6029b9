"""Planner statistics of the tables that grow fastest, refreshed by Kirje itself (PostgreSQL).

An import or a stream of events makes these tables grow from nothing to millions of rows.
With statistics that still say they are empty, PostgreSQL picks plans that read every row of
an account per looked-up identifier, and autovacuum, which would refresh them, is not always
on (nor quick enough mid-import). So imports refresh the tables they join before each range,
and every worker's sweep refreshes the high-volume tables that changed by half.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, column, or_, select, table

from kirje.store.event_partitions import PARTITION_PREFIX

# Rows a table may change by, over half its size, before its statistics are refreshed.
STALE_ROWS = 10_000
# Written by every import, event import, tracked page view and delivery.
HIGH_VOLUME_TABLES = (
    "contacts",
    "contact_identities",
    "list_members",
    "member_consents",
    "delivery_recipients",
)

_pg_stats = table(
    "pg_stat_user_tables", column("relname"), column("n_live_tup"), column("n_mod_since_analyze")
)


def refresh_statistics(
    conn: Connection,
    names: Sequence[str],
    *,
    always: Sequence[str] = (),
    with_event_partitions: bool = False,
) -> list[str]:
    """ANALYZEs those of the named tables (and, if asked, of the event store's partitions)
    that changed by half since their statistics were taken, and those named in always;
    returns their names. The change counters lag (a backend reports them about once a
    second), hence always for a table just loaded."""
    if conn.dialect.name != "postgresql":
        return []
    named = _pg_stats.c.relname.in_(list(names))
    if with_event_partitions:
        named = or_(named, _pg_stats.c.relname.startswith(PARTITION_PREFIX))
    stale = conn.execute(
        select(_pg_stats.c.relname).where(
            named, _pg_stats.c.n_mod_since_analyze > _pg_stats.c.n_live_tup / 2 + STALE_ROWS
        )
    ).scalars()
    # One order (by name) for every caller: ANALYZE holds its lock to the end of the
    # transaction, and one order means no two refreshes deadlock.
    analyzed = sorted(set(stale) | set(always))
    for name in analyzed:
        # Our own tables' names, as the statistics view gives them, never input.
        conn.exec_driver_sql(f'ANALYZE "{name}"')
    return analyzed


def refresh_high_volume_statistics(conn: Connection) -> list[str]:
    return refresh_statistics(conn, HIGH_VOLUME_TABLES, with_event_partitions=True)
