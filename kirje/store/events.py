"""The append-only event store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, insert, select

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
    return [
        Event(
            id=r.id,
            account_id=r.account_id,
            contact_id=r.contact_id,
            type=r.type,
            at=r.at,
            list_id=r.list_id,
            data=r.data or {},
        )
        for r in rows
    ]


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
