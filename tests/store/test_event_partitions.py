"""On PostgreSQL the event store is partitioned by month, with partitions made ahead of time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from kirje.services.system import System
from kirje.store import events as event_store
from kirje.store.event_partitions import (
    DEFAULT_PARTITION,
    MONTHS_AHEAD,
    ensure_event_partitions,
    partition_name,
)


@pytest.fixture
def postgresql_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has no partitions: the event store is one table there")


def _partition_of(system: System, event_id: int) -> str:
    with system.db.reading() as conn:
        query = text("SELECT tableoid::regclass::text FROM events WHERE id = :id")
        return conn.execute(query, {"id": event_id}).scalar_one()


def test_this_months_and_the_coming_months_partitions_exist(postgresql_only, system) -> None:
    system.prepare_event_partitions()
    now = datetime.now(UTC)
    with system.db.reading() as conn:
        names = set(
            conn.execute(
                text(
                    "SELECT inhrelid::regclass::text FROM pg_inherits"
                    " WHERE inhparent = 'events'::regclass"
                )
            ).scalars()
        )
    month = datetime(now.year, now.month, 1, tzinfo=UTC)
    expected = {DEFAULT_PARTITION}
    for _ in range(MONTHS_AHEAD + 1):
        expected.add(partition_name(month))
        month = (
            month.replace(year=month.year + 1, month=1)
            if month.month == 12
            else month.replace(month=month.month + 1)
        )
    assert expected <= names


def test_an_event_lands_in_its_months_partition_or_the_default(
    postgresql_only, system, account
) -> None:
    now = datetime.now(UTC)
    # Two months back: before the partitions the session's migration made.
    back = datetime(now.year, now.month, 1, tzinfo=UTC) - timedelta(days=45)
    long_ago = datetime(back.year, back.month, 17, tzinfo=UTC)
    next_month = (long_ago + timedelta(days=20)).replace(day=1)
    with system.db.transaction() as conn:
        recent, old = event_store.append_returning_ids(
            conn,
            [
                event_store.event_row(account.account_id, None, "pbr", now),
                event_store.event_row(account.account_id, None, "pbr", long_ago),
            ],
        )
    assert _partition_of(system, recent) == partition_name(
        datetime(now.year, now.month, 1, tzinfo=UTC)
    )
    assert _partition_of(system, old) == DEFAULT_PARTITION
    # That month has rows in the default partition now: they stay there, and no partition is
    # attached over them; the month after it gets its partition.
    with system.db.transaction() as conn:
        made = ensure_event_partitions(conn, now, since=long_ago)
    assert partition_name(long_ago.replace(day=1)) not in made
    assert partition_name(next_month) in made
    assert _partition_of(system, old) == DEFAULT_PARTITION
