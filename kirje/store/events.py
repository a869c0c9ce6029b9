"""The append-only event store."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

import orjson
from sqlalchemy import Connection, insert, select
from sqlalchemy.engine import Row

from kirje.domain.events import Event
from kirje.store import bulk
from kirje.store.schema import events


def append_events(conn: Connection, rows: Sequence[dict]) -> None:
    """Appends many events in one statement; build each row with event_row."""
    if rows:
        conn.execute(insert(events), list(rows))


def contact_events(conn: Connection, account_id: int, contact_id: int) -> list[Event]:
    rows = conn.execute(
        select(events)
        .where(events.c.account_id == account_id, events.c.contact_id == contact_id)
        .order_by(events.c.id)
    )
    return [event_from_row(row) for row in rows]


def event_from_row(row: Row) -> Event:
    return Event(
        id=row.id,
        account_id=row.account_id,
        contact_id=row.contact_id,
        type=row.type,
        at=row.at,
        list_id=row.list_id,
        data=row.data or {},
    )


def event_row(
    account_id: int,
    contact_id: int | None,
    type_: str,
    at: datetime,
    *,
    list_id: int | None = None,
    data: dict | None = None,
    channel_id: int | None = None,
    job_id: int | None = None,
    delivery_id: int | None = None,
) -> dict:
    return dict(
        account_id=account_id,
        contact_id=contact_id,
        type=type_,
        at=at,
        list_id=list_id,
        channel_id=channel_id,
        job_id=job_id,
        delivery_id=delivery_id,
        data=data or {},
    )


_COPIED_COLUMNS = (
    "id",
    "account_id",
    "contact_id",
    "type",
    "at",
    "list_id",
    "channel_id",
    "job_id",
    "delivery_id",
    "data",
)


def append_returning_ids(conn: Connection, rows: Sequence[dict]) -> list[int]:
    """Appends many events (built with event_row) and returns their ids, in order.

    On PostgreSQL the ids are drawn from the sequence first and the rows go in by COPY: a
    multi-row INSERT ... RETURNING of 500 events spent most of its time in the driver
    building the statement, COPY streams them at the database's bulk speed.
    """
    if not rows:
        return []
    if conn.dialect.name != "postgresql":
        statement = insert(events).returning(events.c.id, sort_by_parameter_order=True)
        return list(conn.execute(statement, list(rows)).scalars())
    ids = bulk.next_ids(conn, "events", len(rows))
    bulk.copy_text(conn, "events", _COPIED_COLUMNS, _copy_lines(ids, rows))
    return ids


def _copy_lines(ids: list[int], rows: Sequence[dict]) -> Iterator[str]:
    """The rows in COPY's text format; a time is formatted once per distinct moment (a batch
    shares one)."""
    field = bulk.copy_field
    last_at, at_text = None, ""
    for id_, row in zip(ids, rows, strict=True):
        if row["at"] is not last_at:
            last_at, at_text = row["at"], row["at"].isoformat()
        values = (
            id_,
            row["account_id"],
            row["contact_id"],
            row["type"],
            at_text,
            row["list_id"],
            row["channel_id"],
            row["job_id"],
            row["delivery_id"],
            orjson.dumps(row["data"]).decode(),
        )
        yield "\t".join(map(field, values)) + "\n"


def stored_event_keys(
    conn: Connection,
    account_id: int,
    channel_id: int,
    contact_ids: Iterable[int],
    verbs: Iterable[str],
) -> set[tuple[int, str, bytes]]:
    """(contact, verb, canonical items) of the channel's events of these contacts and verbs:
    what no_duplicates compares a batch with."""
    wanted = sorted(set(contact_ids))
    found: set[tuple[int, str, bytes]] = set()
    for start in range(0, len(wanted), 5000):
        rows = conn.execute(
            select(events.c.contact_id, events.c.type, events.c.data).where(
                events.c.account_id == account_id,
                events.c.contact_id.in_(wanted[start : start + 5000]),
                events.c.channel_id == channel_id,
                events.c.type.in_(sorted(set(verbs))),
            )
        )
        found.update((row.contact_id, row.type, canonical_json(row.data)) for row in rows)
    return found


def canonical_json(value: object) -> bytes:
    """One byte string per JSON value whatever its key order: what 'identical' compares."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
