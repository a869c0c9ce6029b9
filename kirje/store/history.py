"""Reading the event store: a contact's history, consent changes, unsubscriptions, counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, and_, false, func, select
from sqlalchemy.engine import Row

from kirje.domain.events import Event, EventType
from kirje.domain.history import ConsentUpdate, ConsentUpdates, Subscription, Unsubscription
from kirje.store.events import event_from_row
from kirje.store.schema import contacts, events

_CONSENT_TYPES = (EventType.CONSENT_GIVEN.value, EventType.CONSENT_REVOKED.value)


def contact_history(
    conn: Connection,
    account_id: int,
    contact_id: int,
    *,
    types: Sequence[str] | None,
    limit: int,
    offset: int,
) -> list[Event]:
    """A page of the contact's events, newest first. Ids, not times, give the order: one
    use case stamps its events with moments taken at different steps, while the append-only
    store numbers them in the order they happened."""
    query = select(events).where(
        events.c.account_id == account_id, events.c.contact_id == contact_id
    )
    if types:
        query = query.where(events.c.type.in_(list(types)))
    rows = conn.execute(query.order_by(events.c.id.desc()).limit(limit).offset(offset))
    return [event_from_row(row) for row in rows]


def count_events(conn: Connection, account_id: int, contact_id: int | None) -> int:
    """Events of one contact, or of the whole account when contact_id is None."""
    query = select(func.count()).select_from(events).where(events.c.account_id == account_id)
    if contact_id is not None:
        query = query.where(events.c.contact_id == contact_id)
    return conn.execute(query).scalar_one()


def consent_updates(
    conn: Connection,
    account_id: int,
    since: datetime,
    *,
    consent_id: int | None,
    types: Sequence[str] = _CONSENT_TYPES,
    lang: str | None = None,
    limit: int,
    offset: int,
) -> ConsentUpdates:
    """Consents given and revoked since the moment, oldest first, with the total count."""
    data = events.c.data
    condition = and_(
        events.c.account_id == account_id,
        events.c.type.in_(list(types)),
        events.c.at >= since,
    )
    if consent_id is not None:
        condition = and_(condition, data["consent_id"].as_integer() == consent_id)
    if lang is not None:
        condition = and_(condition, func.upper(data["lang"].as_string()) == lang.upper())
    total = conn.execute(select(func.count()).select_from(events).where(condition)).scalar_one()
    rows = conn.execute(
        select(events)
        .where(condition)
        .order_by(events.c.at, events.c.id)
        .limit(limit)
        .offset(offset)
    )
    items = [
        ConsentUpdate(
            contact_id=row.contact_id,
            consent_id=row.data.get("consent_id"),
            revision=row.data.get("revision"),
            lang=row.data.get("lang"),
            is_given=row.type == EventType.CONSENT_GIVEN.value,
            at=row.at,
        )
        for row in rows
    ]
    return ConsentUpdates(items, total)


def list_unsubscriptions(
    conn: Connection, account_id: int, since: datetime | None
) -> list[Unsubscription]:
    """Contacts leaving lists on their own (not removals by an admin, deletions or bans)."""
    return [
        Unsubscription(
            contact_id=row.contact_id,
            email=row.email,
            list_id=row.list_id,
            at=row.at,
            reason=(row.data or {}).get("reason"),
        )
        for row in _own_list_events(conn, account_id, EventType.LIST_QUIT, since)
    ]


def list_subscriptions(
    conn: Connection, account_id: int, since: datetime | None
) -> list[Subscription]:
    """Contacts joining lists on their own (not added by an admin), oldest first."""
    return [
        Subscription(
            contact_id=row.contact_id,
            email=row.email,
            list_id=row.list_id,
            at=row.at,
            origin=(row.data or {}).get("origin"),
        )
        for row in _own_list_events(conn, account_id, EventType.LIST_JOIN, since)
    ]


def _own_list_events(
    conn: Connection, account_id: int, kind: EventType, since: datetime | None
) -> list[Row]:
    """The account's list joins or quits that the contacts made themselves, with each
    contact's address, oldest first."""
    condition = and_(
        events.c.account_id == account_id,
        events.c.type == kind.value,
        events.c.data["admin"].as_boolean() == false(),
    )
    if since is not None:
        condition = and_(condition, events.c.at >= since)
    return conn.execute(
        select(events, contacts.c.email)
        .select_from(
            events.outerjoin(
                contacts,
                and_(contacts.c.id == events.c.contact_id, contacts.c.account_id == account_id),
            )
        )
        .where(condition)
        .order_by(events.c.at, events.c.id)
    ).all()


def event_counts(
    conn: Connection, account_id: int, contact_ids: Sequence[int], types: Sequence[str]
) -> dict[tuple[int, str], int]:
    """How many events of each type each contact has: one grouped query."""
    if not contact_ids or not types:
        return {}
    rows = conn.execute(
        select(events.c.contact_id, events.c.type, func.count().label("n"))
        .where(
            events.c.account_id == account_id,
            events.c.contact_id.in_(list(contact_ids)),
            events.c.type.in_(list(types)),
        )
        .group_by(events.c.contact_id, events.c.type)
    )
    return {(row.contact_id, row.type): row.n for row in rows}
