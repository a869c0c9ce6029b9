"""Bounces: the ledger row a bounce names, and whether the bounce was recorded before."""

from __future__ import annotations

from sqlalchemy import Connection, select
from sqlalchemy.engine import Row

from kirje.domain.events import EventType
from kirje.store.schema import delivery_recipients, events


def find_bounced_recipient(conn: Connection, delivery_id: int, contact_id: int) -> Row | None:
    """The ledger row (account_id, email, state) the VERP address names.

    Not scoped by an account: a bounce carries none, its delivery's row names it. Locked to the
    end of the transaction on PostgreSQL (SQLite has one writer at a time), so two takers of
    the same bounce at once record it once.
    """
    query = select(
        delivery_recipients.c.account_id,
        delivery_recipients.c.email,
        delivery_recipients.c.state,
    ).where(
        delivery_recipients.c.delivery_id == delivery_id,
        delivery_recipients.c.contact_id == contact_id,
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).first()


def bounce_recorded(
    conn: Connection, account_id: int, contact_id: int, delivery_id: int, kind: str
) -> bool:
    """Whether the contact has a mailbounce event of this kind for this delivery already."""
    recorded = conn.execute(
        select(events.c.data).where(
            events.c.account_id == account_id,
            events.c.contact_id == contact_id,
            events.c.type == EventType.MAIL_BOUNCE,
        )
    ).scalars()
    return any(
        (data or {}).get("delivery") == delivery_id and (data or {}).get("kind") == kind
        for data in recorded
    )
