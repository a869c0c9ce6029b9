"""Planner statistics of the tables that grow fastest, refreshed by Kirje itself (PostgreSQL).

An import or a stream of events makes these tables grow from nothing to millions of rows.
With statistics that still say they are empty, PostgreSQL picks plans that read every row of
an account per looked-up identifier, and autovacuum, which would refresh them, is not always
on (nor quick enough mid-import). So an import refreshes, before each range, the columns it
joins on of the tables that have outgrown their statistics (refresh_join_statistics), and
every worker's sweep refreshes whole the high-volume tables that changed by half.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import BigInteger, Connection, column, func, or_, select, table

from kirje.store.event_partitions import PARTITION_PREFIX

# Rows a table may change by, over half its size, before its statistics are refreshed.
STALE_ROWS = 10_000
# Bytes a table may grow by, over its size when its statistics were taken, before the
# statistics of its join columns are refreshed (refresh_join_statistics).
GROWN_BYTES = 1_000_000
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
_pg_class = table("pg_class", column("oid"), column("relname"), column("relpages"))


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


def refresh_join_statistics(
    conn: Connection, columns: Mapping[str, Sequence[str]], *, always: Sequence[str] = ()
) -> list[str]:
    """ANALYZEs the given columns of those tables that have grown to over twice their size
    when their statistics were taken (and of those named in always); returns their names.

    For a bulk writer joining into tables it makes grow, as an import does range by range:
    its plans need the key columns' statistics, not those of a contact's properties, which
    cost most of a whole ANALYZE. The table's size is read from its file, so it does not lag.
    PostgreSQL resets a table's change counter only for a whole ANALYZE: the sweep
    (refresh_high_volume_statistics) still refreshes the table whole afterwards.
    """
    if conn.dialect.name != "postgresql":
        return []
    size = func.pg_relation_size(_pg_class.c.oid)
    size_then = _pg_class.c.relpages.cast(BigInteger) * func.current_setting("block_size").cast(
        BigInteger
    )
    grown = conn.execute(
        select(_pg_class.c.relname).where(
            _pg_class.c.oid.in_([func.to_regclass(name) for name in columns]),
            size > size_then * 2 + GROWN_BYTES,
        )
    ).scalars()
    analyzed = sorted(set(grown) | set(always))
    for name in analyzed:
        # Our own tables' and columns' names, never input. SKIP_LOCKED: a table another
        # import is analyzing now will have fresh statistics from it.
        listed = ", ".join(f'"{column_name}"' for column_name in columns[name])
        conn.exec_driver_sql(f'ANALYZE (SKIP_LOCKED) "{name}" ({listed})')
    return analyzed
