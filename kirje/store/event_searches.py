"""Event store reads and deletes by person: searches, exports, deletes and the counts behind
the automations report. Each is one set-based statement over the events of one account."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    and_,
    case,
    cast,
    delete,
    distinct,
    func,
    literal,
    null,
    select,
    true,
)
from sqlalchemy.sql.elements import ColumnElement

from kirje.domain.event_searches import EventMatch, ExportPerson, FoundEvent
from kirje.domain.identities import Identity, IdentityKind
from kirje.store import identities as identity_store
from kirje.store.schema import contacts, events

# Persons (and their contacts) by identifier


def named_contacts(
    conn: Connection, account_id: int, identities: Sequence[Identity]
) -> list[set[int]]:
    """For each identity, the contacts any of its identifiers names: by Kirje id (a merged
    contact's id names the one it was merged into), email, SMS, extra1, extra2 or token.
    Forgotten contacts name nobody: nothing of the person is left to find."""
    ids = {identity.id for identity in identities if identity.id is not None}
    by_id = identity_store.held_by_id(conn, account_id, ids)
    by_email = identity_store.held_by_address(
        conn, account_id, IdentityKind.EMAIL, {i.email for i in identities if i.email}
    )
    by_sms = identity_store.held_by_address(
        conn, account_id, IdentityKind.SMS, {i.sms for i in identities if i.sms}
    )
    links = identity_store.linked_contacts(
        conn, account_id, [pair for identity in identities for pair in identity.linked()]
    )
    named: list[set[int]] = []
    for identity in identities:
        found = set()
        if identity.id in by_id:
            found.add(by_id[identity.id].contact_id)
        if identity.email in by_email:
            found.add(by_email[identity.email].contact_id)
        if identity.sms in by_sms:
            found.add(by_sms[identity.sms].contact_id)
        found.update(links[pair] for pair in identity.linked() if pair in links)
        named.append(found)
    living = _unforgotten(conn, account_id, set().union(*named))
    return [found & living for found in named]


def _unforgotten(conn: Connection, account_id: int, contact_ids: set[int]) -> set[int]:
    living: set[int] = set()
    wanted = sorted(contact_ids)
    for start in range(0, len(wanted), identity_store.CHUNK):
        living.update(
            conn.execute(
                select(contacts.c.id).where(
                    contacts.c.account_id == account_id,
                    contacts.c.id.in_(wanted[start : start + identity_store.CHUNK]),
                    contacts.c.forgotten_at.is_(None),
                    contacts.c.merged_into.is_(None),
                )
            ).scalars()
        )
    return living


# Searches and exports


def _conditions(account_id: int, match: EventMatch) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [events.c.account_id == account_id]
    if match.channel_ids is not None:
        conditions.append(events.c.channel_id.in_(match.channel_ids))
    if match.verbs:
        conditions.append(events.c.type.in_(match.verbs))
    if match.newer_than is not None:
        conditions.append(events.c.at > match.newer_than)
    if match.older_than is not None:
        conditions.append(events.c.at < match.older_than)
    if match.contact_ids is not None:
        conditions.append(events.c.contact_id.in_(match.contact_ids))
    return conditions


def _of_person(account_id: int) -> ColumnElement[bool]:
    """Joins an event to its contact; events of no one or of a forgotten person are left out."""
    return and_(
        contacts.c.account_id == account_id,
        contacts.c.id == events.c.contact_id,
        contacts.c.forgotten_at.is_(None),
    )


def search_events(
    conn: Connection,
    account_id: int,
    match: EventMatch,
    *,
    include_data: bool,
    limit: int,
    offset: int,
) -> list[FoundEvent]:
    """The matching events in time order (then id), one page of them."""
    columns = [
        events.c.at,
        events.c.type,
        events.c.channel_id,
        events.c.contact_id,
        contacts.c.email,
        contacts.c.sms,
    ]
    if include_data:
        columns.append(events.c.data)
    query = (
        select(*columns)
        .join_from(events, contacts, _of_person(account_id))
        .where(*_conditions(account_id, match))
        .order_by(events.c.at, events.c.id)
        .limit(limit)
        .offset(offset)
    )
    return [
        FoundEvent(
            at=row.at,
            verb=row.type,
            channel_id=row.channel_id,
            contact_id=row.contact_id,
            email=row.email,
            sms=row.sms,
            data=(row.data or {}) if include_data else None,
        )
        for row in conn.execute(query)
    ]


def export_people(
    conn: Connection, account_id: int, match: EventMatch, *, limit: int, offset: int
) -> list[ExportPerson]:
    """One page of the persons with matching events, in id order, each with the time of
    their latest matching event and, for each verb and item key, the value of their latest
    matching event of that verb carrying that key. One statement."""
    page = (
        select(events.c.contact_id)
        .join_from(events, contacts, _of_person(account_id))
        .where(*_conditions(account_id, match))
        .group_by(events.c.contact_id)
        .order_by(events.c.contact_id)
        .limit(limit)
        .offset(offset)
        .cte("page")
    )
    matched = (
        select(events.c.id, events.c.contact_id, events.c.type, events.c.at, events.c.data)
        .where(*_conditions(account_id, match), events.c.contact_id.in_(select(page.c.contact_id)))
        .cte("matched")
    )
    is_postgresql = conn.dialect.name == "postgresql"
    if is_postgresql:
        # psycopg decodes the jsonb values itself.
        items = func.jsonb_each(matched.c.data).table_valued("key", "value").alias("item")
        value_type = null()
    else:
        items = func.json_each(matched.c.data).table_valued("key", "value", "type").alias("item")
        value_type = items.c.type
    latest_first = (matched.c.at.desc(), matched.c.id.desc())
    ranked = (
        select(
            matched.c.contact_id,
            matched.c.type.label("verb"),
            items.c.key,
            items.c.value,
            value_type.label("value_type"),
            func.max(matched.c.at).over(partition_by=matched.c.contact_id).label("last_at"),
            func.row_number()
            .over(
                partition_by=(matched.c.contact_id, matched.c.type, items.c.key),
                order_by=latest_first,
            )
            .label("rank"),
        )
        # Outer: a person whose matching events carry no items still has a row.
        .select_from(matched.outerjoin(items, true()))
        .subquery("ranked")
    )
    query = (
        select(ranked, contacts.c.email, contacts.c.sms)
        .join_from(
            ranked,
            contacts,
            and_(contacts.c.account_id == account_id, contacts.c.id == ranked.c.contact_id),
        )
        .where(ranked.c.rank == 1)
        .order_by(ranked.c.contact_id, ranked.c.verb, ranked.c.key)
    )
    people: dict[int, ExportPerson] = {}
    for row in conn.execute(query):
        person = people.get(row.contact_id)
        if person is None:
            person = people[row.contact_id] = ExportPerson(
                id=row.contact_id, email=row.email, sms=row.sms, last_at=row.last_at
            )
        if row.key is not None:
            value = row.value if is_postgresql else _sqlite_json_value(row.value, row.value_type)
            person.values[f"{row.verb}-{row.key}"] = value
    return list(people.values())


def _sqlite_json_value(value: Any, kind: str) -> Any:
    """A value as SQLite's json_each gives it, back to what it was in the document."""
    if kind in ("object", "array"):
        return json.loads(value)
    if kind in ("true", "false"):
        return kind == "true"
    return value


# Deletes


def verb_counts(
    conn: Connection,
    account_id: int,
    contact_ids: Sequence[int],
    channel_ids: Sequence[int] | None,
) -> dict[int, Counter[str]]:
    """How many events of each verb the contacts have per channel (all channels when
    channel_ids is None): what a delete takes off the channels' counters."""
    in_channels = (
        events.c.channel_id.is_not(None)
        if channel_ids is None
        else events.c.channel_id.in_(channel_ids)
    )
    rows = conn.execute(
        select(events.c.channel_id, events.c.type, func.count().label("events"))
        .where(events.c.account_id == account_id, events.c.contact_id.in_(contact_ids), in_channels)
        .group_by(events.c.channel_id, events.c.type)
    )
    counts: dict[int, Counter[str]] = {}
    for row in rows:
        counts.setdefault(row.channel_id, Counter())[row.type] = row.events
    return counts


def delete_events(
    conn: Connection,
    account_id: int,
    contact_ids: Sequence[int],
    channel_ids: Sequence[int] | None,
) -> int:
    """Deletes the contacts' events in these channels, or all of them when channel_ids is
    None; returns how many."""
    conditions = [events.c.account_id == account_id, events.c.contact_id.in_(contact_ids)]
    if channel_ids is not None:
        conditions.append(events.c.channel_id.in_(channel_ids))
    return conn.execute(delete(events).where(*conditions)).rowcount


# The automations report


def _tag(name: str) -> ColumnElement[str]:
    """A value the sending pipeline writes into a mail event's data, as text."""
    return cast(events.c.data[name].as_string(), String)


_AUTOMATION = _tag("automation_id")
_MESSAGE = _tag("message_id")


def _automation_mails(
    account_id: int, verbs: Iterable[str], start: datetime, end: datetime
) -> list[ColumnElement[bool]]:
    return [
        events.c.account_id == account_id,
        events.c.type.in_(list(verbs)),
        events.c.at >= start,
        events.c.at < end,
        _AUTOMATION.is_not(None),
        _MESSAGE.is_not(None),
    ]


def monthly_mail_counts(
    conn: Connection, account_id: int, verbs: Sequence[str], bounds: Sequence[datetime]
) -> list[tuple[str, str, str, int, int]]:
    """(automation, message, verb, month index, events) for the automation mail events from
    bounds[0] to bounds[-1]; month i runs from bounds[i] to bounds[i + 1]."""
    inner = bounds[1:-1]
    last = literal(len(bounds) - 2)
    # A one-month report has no inner bound, and a CASE needs at least one WHEN.
    month = (
        case(*((events.c.at < bound, index) for index, bound in enumerate(inner)), else_=last)
        if inner
        else last
    ).label("month")
    automation, message = _AUTOMATION.label("automation"), _MESSAGE.label("message")
    rows = conn.execute(
        select(automation, message, events.c.type, month, func.count().label("events"))
        .where(*_automation_mails(account_id, verbs, bounds[0], bounds[-1]))
        .group_by(automation, message, events.c.type, month)
    )
    return [(row.automation, row.message, row.type, row.month, row.events) for row in rows]


def message_reach(
    conn: Connection, account_id: int, verbs: Sequence[str], start: datetime, end: datetime
) -> list[tuple[str, str, str, int, str | None, str | None]]:
    """(automation, message, verb, distinct persons, automation name, subject) over the
    period; names are whatever the events carry (the engine will keep its own)."""
    automation, message = _AUTOMATION.label("automation"), _MESSAGE.label("message")
    rows = conn.execute(
        select(
            automation,
            message,
            events.c.type,
            func.count(distinct(events.c.contact_id)).label("persons"),
            func.max(_tag("automation_name")).label("name"),
            func.max(_tag("subject")).label("subject"),
        )
        .where(*_automation_mails(account_id, verbs, start, end))
        .group_by(automation, message, events.c.type)
    )
    return [
        (row.automation, row.message, row.type, row.persons, row.name, row.subject) for row in rows
    ]


def automation_reach(
    conn: Connection, account_id: int, verbs: Sequence[str], start: datetime, end: datetime
) -> list[tuple[str, str, int]]:
    """(automation, verb, distinct persons) over the period, across the automation's messages."""
    automation = _AUTOMATION.label("automation")
    rows = conn.execute(
        select(automation, events.c.type, func.count(distinct(events.c.contact_id)).label("n"))
        .where(*_automation_mails(account_id, verbs, start, end))
        .group_by(automation, events.c.type)
    )
    return [(row.automation, row.type, row.n) for row in rows]
