"""Contacts by identifier, new contacts from identities, identifier links, and merges."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection, and_, delete, func, insert, select, update

from kirje.domain.identities import HeldAddresses, IdentityKind
from kirje.store import bulk
from kirje.store.matching import one_of
from kirje.store.schema import (
    confirmation_tasks,
    contact_identities,
    contacts,
    events,
    list_members,
    member_consents,
    queued_mails,
)

# Bind parameters per statement stay well under SQLite's limit (32,766).
CHUNK = 5000


def _chunks(values: Sequence) -> Iterable[Sequence]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def held_by_address(
    conn: Connection, account_id: int, kind: IdentityKind, values: Iterable[str]
) -> dict[str, HeldAddresses]:
    """The contacts holding these emails or SMS numbers (deleted ones too: a person's events
    stay theirs), by address."""
    column = contacts.c[kind.value]
    found: dict[str, HeldAddresses] = {}
    for chunk in _chunks(sorted(set(values))):
        rows = conn.execute(
            select(contacts.c.id, contacts.c.email, contacts.c.sms).where(
                contacts.c.account_id == account_id, one_of(conn, column, chunk)
            )
        )
        for row in rows:
            found[getattr(row, kind.value)] = HeldAddresses(row.id, row.email, row.sms)
    return found


def held_by_id(
    conn: Connection, account_id: int, contact_ids: Iterable[int]
) -> dict[int, HeldAddresses]:
    """Contacts by id; a merged contact answers with the one it was merged into."""
    named = contacts.alias("named")
    keeper = contacts.alias("keeper")
    found: dict[int, HeldAddresses] = {}
    for chunk in _chunks(sorted(set(contact_ids))):
        rows = conn.execute(
            select(named.c.id.label("named_id"), keeper.c.id, keeper.c.email, keeper.c.sms)
            .join_from(
                named,
                keeper,
                and_(
                    keeper.c.account_id == account_id,
                    keeper.c.id == func.coalesce(named.c.merged_into, named.c.id),
                ),
            )
            .where(named.c.account_id == account_id, one_of(conn, named.c.id, chunk))
        )
        for row in rows:
            found[row.named_id] = HeldAddresses(row.id, row.email, row.sms)
    return found


def linked_contacts(
    conn: Connection, account_id: int, pairs: Iterable[tuple[IdentityKind, str]]
) -> dict[tuple[IdentityKind, str], int]:
    """Which contact each (kind, value) identifier names."""
    table = contact_identities
    by_kind: dict[IdentityKind, set[str]] = {}
    for kind, value in pairs:
        by_kind.setdefault(kind, set()).add(value)
    found: dict[tuple[IdentityKind, str], int] = {}
    # One kind at a time: `kind = k AND value IN (...)` is an index range per value, where a
    # (kind, value) IN list made PostgreSQL scan every identifier of the account's kind.
    for kind, values in sorted(by_kind.items()):
        for chunk in _chunks(sorted(values)):
            rows = conn.execute(
                select(table.c.value, table.c.contact_id).where(
                    table.c.account_id == account_id,
                    table.c.kind == kind.value,
                    one_of(conn, table.c.value, chunk),
                )
            )
            for row in rows:
                found[(kind, row.value)] = row.contact_id
    return found


def identifiers_of(
    conn: Connection, account_id: int, contact_ids: Iterable[int]
) -> dict[int, dict[str, str]]:
    """Each contact's extra1, extra2 and newest token, for showing identities."""
    table = contact_identities
    found: dict[int, dict[str, str]] = {}
    for chunk in _chunks(sorted(set(contact_ids))):
        rows = conn.execute(
            select(table.c.contact_id, table.c.kind, table.c.value)
            .where(table.c.account_id == account_id, table.c.contact_id.in_(chunk))
            .order_by(table.c.created_at, table.c.value)
        )
        for row in rows:
            found.setdefault(row.contact_id, {})[row.kind] = row.value
    return found


def insert_contacts(
    conn: Connection, account_id: int, addresses: Sequence[tuple[str | None, str | None]], now
) -> list[int]:
    """New contacts with these (email, sms) pairs and nothing else; their ids, in order."""
    if not addresses:
        return []
    if conn.dialect.name == "postgresql":
        ids = bulk.next_ids(conn, "contacts", len(addresses))
        columns = ("id", "account_id", "email", "sms", "properties", "is_enabled")
        bulk.copy_rows(
            conn,
            "contacts",
            (*columns, "created_at", "updated_at"),
            (
                (id_, account_id, email, sms, "{}", True, now, now)
                for id_, (email, sms) in zip(ids, addresses, strict=True)
            ),
        )
        return ids
    rows = [
        dict(
            account_id=account_id,
            email=email,
            sms=sms,
            properties={},
            is_enabled=True,
            created_at=now,
            updated_at=now,
        )
        for email, sms in addresses
    ]
    statement = insert(contacts).returning(contacts.c.id, sort_by_parameter_order=True)
    return list(conn.execute(statement, rows).scalars())


def give_addresses(
    conn: Connection,
    account_id: int,
    contact_id: int,
    *,
    email: str | None,
    sms: str | None,
    now: datetime,
) -> None:
    """Sets the email and SMS number a contact has none of."""
    for column, value in (("email", email), ("sms", sms)):
        if value is not None:
            conn.execute(
                update(contacts)
                .where(
                    contacts.c.account_id == account_id,
                    contacts.c.id == contact_id,
                    contacts.c[column].is_(None),
                )
                .values({column: value, "updated_at": now})
            )


def link_identifiers(
    conn: Connection,
    account_id: int,
    links: Mapping[tuple[IdentityKind, str], int],
    known: Mapping[tuple[IdentityKind, str], int],
    now: datetime,
) -> None:
    """Points each (kind, value) at its contact: new ones are added, ones that named another
    contact are taken from it (the newest import tells whose tracking token or extra id it is
    now), and those already right are left alone. `known`: what they named before."""
    table = contact_identities
    for (kind, value), contact_id in links.items():
        if known.get((kind, value), contact_id) != contact_id:
            conn.execute(
                update(table)
                .where(
                    table.c.account_id == account_id, table.c.kind == kind, table.c.value == value
                )
                .values(contact_id=contact_id)
            )
    new = [
        (kind, value, contact_id)
        for (kind, value), contact_id in links.items()
        if (kind, value) not in known
    ]
    if not new:
        return
    if conn.dialect.name == "postgresql":
        columns = ("account_id", "kind", "value", "contact_id", "created_at")
        rows = ((account_id, kind.value, value, contact_id, now) for kind, value, contact_id in new)
        bulk.copy_rows(conn, "contact_identities", columns, rows)
        return
    conn.execute(
        insert(table),
        [
            dict(
                account_id=account_id, kind=kind, value=value, contact_id=contact_id, created_at=now
            )
            for kind, value, contact_id in new
        ],
    )


# The tables whose rows follow a person into the contact they are merged into.
_FOLLOWING = (events, contact_identities, member_consents, confirmation_tasks, queued_mails)


def merge_contact(
    conn: Connection, account_id: int, *, merged: int, keeper: int, now: datetime
) -> None:
    """Moves everything of `merged` to `keeper` and leaves `merged` a deleted tombstone.

    The caller has checked that the two can be one person (domain.identities.can_absorb).
    Memberships move where the keeper is not in the list already; the keeper's property values
    win over the merged contact's; the merged contact's addresses go to the keeper.
    """
    for table in _FOLLOWING:
        conn.execute(
            update(table)
            .where(table.c.account_id == account_id, table.c.contact_id == merged)
            .values(contact_id=keeper)
        )
    _move_memberships(conn, account_id, merged, keeper)
    source = conn.execute(
        select(contacts.c.email, contacts.c.sms, contacts.c.properties).where(
            contacts.c.account_id == account_id, contacts.c.id == merged
        )
    ).one()
    conn.execute(
        update(contacts)
        .where(contacts.c.account_id == account_id, contacts.c.id == merged)
        .values(
            email=None, sms=None, properties={}, deleted_at=now, updated_at=now, merged_into=keeper
        )
    )
    conn.execute(
        update(contacts)
        .where(contacts.c.account_id == account_id, contacts.c.merged_into == merged)
        .values(merged_into=keeper)
    )
    kept = conn.execute(
        select(contacts.c.properties).where(
            contacts.c.account_id == account_id, contacts.c.id == keeper
        )
    ).scalar_one()
    conn.execute(
        update(contacts)
        .where(contacts.c.account_id == account_id, contacts.c.id == keeper)
        .values(properties={**(source.properties or {}), **(kept or {})}, updated_at=now)
    )
    give_addresses(conn, account_id, keeper, email=source.email, sms=source.sms, now=now)


def _move_memberships(conn: Connection, account_id: int, merged: int, keeper: int) -> None:
    kept = list_members.alias("kept")
    keeper_is_member = select(kept.c.list_id).where(
        kept.c.account_id == account_id, kept.c.contact_id == keeper
    )
    of_merged = (list_members.c.account_id == account_id, list_members.c.contact_id == merged)
    conn.execute(
        update(list_members)
        .where(*of_merged, list_members.c.list_id.not_in(keeper_is_member))
        .values(contact_id=keeper)
    )
    conn.execute(delete(list_members).where(*of_merged))
