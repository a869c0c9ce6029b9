"""Reading the event store as a feed: pages of an account's events in a stable order, the
first response of each contact to a delivery, and what those pages name (contacts, lists,
links), each fetched for a whole page in one query."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection, Select, func, select
from sqlalchemy.engine import Row

from kirje.domain.event_feed import EventQuery, ListSummary, ResponderOrder, ResponderQuery
from kirje.store.matching import one_of
from kirje.store.schema import contacts, delivery_links, events, mailing_lists

_FEED_COLUMNS = (
    events.c.id,
    events.c.account_id,
    events.c.contact_id,
    events.c.type,
    events.c.at,
    events.c.list_id,
    events.c.delivery_id,
    events.c.data,
)


def event_page(conn: Connection, account_id: int, query: EventQuery) -> list[Row]:
    """One page of the account's events of the query's types, ordered by time and then id.

    The id breaks ties between events of the same moment (a send stamps a whole batch with
    one), so the order is total and offset paging never shows an event twice or skips one.
    The filters are those of the (account_id, type, at) and (account_id, at) indexes.
    """
    types = sorted(query.types)
    conditions = [
        events.c.account_id == account_id,
        events.c.type == types[0] if len(types) == 1 else events.c.type.in_(types),
        # Events imported through a LianaAutomation channel carry that channel's own verbs,
        # even when one is spelt like a mail event: they are not the account's mail history.
        events.c.channel_id.is_(None),
    ]
    if query.since is not None:
        conditions.append(events.c.at >= query.since)
    if query.until is not None:
        conditions.append(events.c.at < query.until)
    order = (
        (events.c.at.desc(), events.c.id.desc())
        if query.is_newest_first
        else (events.c.at, events.c.id)
    )
    statement = (
        select(*_FEED_COLUMNS)
        .where(*conditions)
        .order_by(*order)
        .limit(query.page.limit)
        .offset(query.page.offset)
    )
    return list(conn.execute(statement))


def first_responses(
    conn: Connection, account_id: int, delivery_id: int, query: ResponderQuery
) -> list[Row]:
    """A page of the delivery's responders: for each contact with an event of the query's
    type (at or after `since`), their first such event. The first one, not the latest, so that
    an item stays where it is when its contact opens the mail again while a client pages."""
    numbered = _numbered_responses(account_id, delivery_id, query).subquery()
    firsts = select(*(numbered.c[column.name] for column in _FEED_COLUMNS)).where(
        numbered.c.number == 1
    )
    if query.order is ResponderOrder.CONTACT:
        keys = [numbered.c.contact_id]
    else:
        keys = [numbered.c.at, numbered.c.contact_id]
    order = [key.desc() for key in keys] if query.is_descending else keys
    statement = firsts.order_by(*order).limit(query.page.limit).offset(query.page.offset)
    return list(conn.execute(statement))


def _numbered_responses(account_id: int, delivery_id: int, query: ResponderQuery) -> Select:
    """The delivery's events of the type (by the (delivery_id, type) index), numbered per
    contact from the first."""
    number = func.row_number().over(
        partition_by=events.c.contact_id, order_by=(events.c.at, events.c.id)
    )
    conditions = [
        events.c.delivery_id == delivery_id,
        events.c.type == query.type,
        events.c.account_id == account_id,
        events.c.contact_id.is_not(None),
    ]
    if query.since is not None:
        conditions.append(events.c.at >= query.since)
    return select(*_FEED_COLUMNS, number.label("number")).where(*conditions)


def contacts_by_id(
    conn: Connection, account_id: int, contact_ids: Collection[int], *, with_properties: bool
) -> dict[int, Row]:
    """id, email, sms (and properties when asked) of the contacts, by id."""
    if not contact_ids:
        return {}
    columns = [contacts.c.id, contacts.c.email, contacts.c.sms]
    if with_properties:
        columns.append(contacts.c.properties)
    rows = conn.execute(
        select(*columns).where(
            contacts.c.account_id == account_id, one_of(conn, contacts.c.id, contact_ids)
        )
    )
    return {row.id: row for row in rows}


def list_summaries(
    conn: Connection, account_id: int, list_ids: Collection[int]
) -> dict[int, ListSummary]:
    """The lists' ids and names, deleted lists included: an event outlives its list."""
    if not list_ids:
        return {}
    rows = conn.execute(
        select(mailing_lists.c.id, mailing_lists.c.name).where(
            mailing_lists.c.account_id == account_id,
            one_of(conn, mailing_lists.c.id, list_ids),
        )
    )
    return {row.id: ListSummary(row.id, row.name) for row in rows}


def link_ids(
    conn: Connection, account_id: int, delivery_ids: Collection[int]
) -> dict[tuple[int, int], int]:
    """The link ids of the deliveries' tracked links, by (delivery, position in the message)."""
    if not delivery_ids:
        return {}
    rows = conn.execute(
        select(delivery_links.c.id, delivery_links.c.delivery_id, delivery_links.c.position).where(
            delivery_links.c.account_id == account_id,
            one_of(conn, delivery_links.c.delivery_id, delivery_ids),
        )
    )
    return {(row.delivery_id, row.position): row.id for row in rows}
