"""Planner statistics a bulk writer refreshes as it makes tables grow (PostgreSQL): only the
columns it joins on, only once a table has outgrown its statistics, and without hiding the
table from the sweep's whole refresh."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from kirje.services.system import System
from kirje.store.statistics import GROWN_BYTES, refresh_join_statistics

ROW_BYTES = 100  # about, for a row of the table below


@pytest.fixture
def table(system: System, backend: str) -> Iterator[str]:
    if backend != "postgresql":
        pytest.skip("SQLite keeps no planner statistics of this kind")
    name = f"grows_{uuid.uuid4().hex[:8]}"
    with system.db.transaction() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {name} (id int, email text, properties text)")
    yield name
    with system.db.transaction() as conn:
        conn.exec_driver_sql(f"DROP TABLE {name}")


def _grow(system: System, name: str, rows: int) -> None:
    with system.db.transaction() as conn:
        conn.exec_driver_sql(
            f"INSERT INTO {name} SELECT g, 'person' || g || '@example.com', repeat('x', 50) "
            f"FROM generate_series(1, {rows}) g"
        )
        # Its counts reach the statistics view when it commits, not a while later.
        conn.exec_driver_sql("SELECT pg_stat_force_next_flush()")


def _refresh(system: System, name: str, **options) -> list[str]:
    with system.db.transaction() as conn:
        return refresh_join_statistics(conn, {name: ("id", "email")}, **options)


def _columns_with_statistics(system: System, name: str) -> set[str]:
    with system.db.reading() as conn:
        query = text("SELECT attname FROM pg_stats WHERE tablename = :name")
        return set(conn.execute(query, {"name": name}).scalars())


def _changes_since_whole_analyze(system: System, name: str) -> int:
    with system.db.reading() as conn:
        query = text("SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = :name")
        return conn.execute(query, {"name": name}).scalar_one()


def test_a_table_that_outgrew_its_statistics_gets_its_join_columns_analyzed(system, table):
    _grow(system, table, 100)
    assert _refresh(system, table) == []

    rows = 3 * GROWN_BYTES // ROW_BYTES
    _grow(system, table, rows)
    assert _refresh(system, table) == [table]
    assert _columns_with_statistics(system, table) == {"id", "email"}
    # Not grown again to twice that: left alone.
    _grow(system, table, rows // 2)
    assert _refresh(system, table) == []
    # The sweep still sees every change since the last whole ANALYZE.
    assert _changes_since_whole_analyze(system, table) == 100 + rows + rows // 2


def test_a_table_named_always_is_analyzed_whatever_its_size(system, table):
    _grow(system, table, 10)
    assert _refresh(system, table, always=[table]) == [table]
    assert _columns_with_statistics(system, table) == {"id", "email"}
