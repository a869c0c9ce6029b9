"""The append-only event store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, insert, select
from sqlalchemy.engine import Row

from kirje.domain.events import Event
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
) -> dict:
    return dict(
        account_id=account_id,
        contact_id=contact_id,
        type=type_,
        at=at,
        list_id=list_id,
        data=data or {},
    )
