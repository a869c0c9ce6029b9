"""Privacy SQL: suppressions of forgotten addresses, erasing a contact set-based, the marketing
ban list, and the reads behind a person's data file and their anonymous shadow."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from kirje.domain.lists import MembershipStatus
from kirje.domain.privacy import Channel, SuppressionReason, address_hash
from kirje.store.matching import one_of
from kirje.store.schema import (
    confirmation_tasks,
    contact_identities,
    contacts,
    delivery_recipients,
    events,
    list_members,
    mailing_lists,
    member_consents,
    queued_mails,
    suppressions,
)

# Suppressions


def suppressed_hashes(
    conn: Connection, account_id: int, channel: Channel, hashes: Iterable[str]
) -> set[str]:
    """Those of the hashes that are suppressed: one query for any number (imports, sending)."""
    wanted = list(set(hashes))
    if not wanted:
        return set()
    rows = conn.execute(
        select(suppressions.c.address_hash).where(
            suppressions.c.account_id == account_id,
            suppressions.c.channel == channel.value,
            one_of(conn, suppressions.c.address_hash, wanted),
        )
    )
    return {row.address_hash for row in rows}


def suppressed_addresses(
    conn: Connection, account_id: int, channel: Channel, addresses: Iterable[str]
) -> set[str]:
    """Those of the (normalised) addresses that are suppressed, in one query."""
    by_hash = {address_hash(account_id, channel, address): address for address in addresses}
    return {by_hash[found] for found in suppressed_hashes(conn, account_id, channel, by_hash)}


def suppressed_channels(
    conn: Connection, account_id: int, addresses: Mapping[Channel, str | None]
) -> list[Channel]:
    """The channels whose (normalised) address here is suppressed, in one query."""
    hashed = {
        channel: address_hash(account_id, channel, address)
        for channel, address in addresses.items()
        if address
    }
    if not hashed:
        return []
    wanted = or_(
        *(
            and_(suppressions.c.channel == channel.value, suppressions.c.address_hash == value)
            for channel, value in hashed.items()
        )
    )
    rows = conn.execute(
        select(suppressions.c.channel).where(suppressions.c.account_id == account_id, wanted)
    )
    found = {row.channel for row in rows}
    return [channel for channel in hashed if channel.value in found]


def suppress(
    conn: Connection,
    account_id: int,
    addresses: Mapping[Channel, str | None],
    *,
    reason: SuppressionReason,
    now: datetime,
) -> list[Channel]:
    """Records the (normalised) addresses as suppressed; returns the channels given."""
    given = {channel: address for channel, address in addresses.items() if address}
    rows = []
    for channel, address in given.items():
        hashed = address_hash(account_id, channel, address)
        # An address can already be suppressed (a second contact once held it, in an import).
        if not suppressed_hashes(conn, account_id, channel, [hashed]):
            rows.append(
                dict(
                    account_id=account_id,
                    channel=channel.value,
                    address_hash=hashed,
                    reason=reason.value,
                    created_at=now,
                )
            )
    if rows:
        conn.execute(insert(suppressions), rows)
    return list(given)


# Erasure: each step is one statement over all of the contact's rows.


def clear_contact(conn: Connection, account_id: int, contact_id: int, now: datetime) -> bool:
    """Leaves the contact row as an anonymous tombstone that keeps its id; False when it
    already was one (a concurrent erasure won: this one waited for its row lock)."""
    result = conn.execute(
        update(contacts)
        .where(
            contacts.c.account_id == account_id,
            contacts.c.id == contact_id,
            contacts.c.forgotten_at.is_(None),
        )
        .values(
            email=None,
            sms=None,
            confirmation_code=None,
            properties={},
            is_enabled=False,
            deleted_at=func.coalesce(contacts.c.deleted_at, now),
            forgotten_at=now,
            updated_at=now,
        )
    )
    return result.rowcount == 1


def close_memberships(conn: Connection, account_id: int, contact_id: int, now: datetime) -> int:
    """Ends the active memberships and drops the texts of all; returns how many were active."""
    of_contact = (list_members.c.account_id == account_id, list_members.c.contact_id == contact_id)
    closed = conn.execute(
        update(list_members)
        .where(*of_contact, list_members.c.status == MembershipStatus.ACTIVE.value)
        .values(status=MembershipStatus.REMOVED.value, left_at=now)
    ).rowcount
    conn.execute(update(list_members).where(*of_contact).values(reason=None, origin=None))
    return closed


def anonymise_consents(conn: Connection, account_id: int, contact_id: int) -> int:
    """Drops what a consent recorded about its source (a page address, say), keeps the fact."""
    return conn.execute(
        update(member_consents)
        .where(
            member_consents.c.account_id == account_id,
            member_consents.c.contact_id == contact_id,
        )
        .values(source_data=None)
    ).rowcount


def erase_event_payloads(conn: Connection, account_id: int, contact_id: int) -> int:
    """Empties the data of the contact's events; type, time and list stay for statistics."""
    return conn.execute(
        update(events)
        .where(events.c.account_id == account_id, events.c.contact_id == contact_id)
        .values(data={})
    ).rowcount


def drop_queued_mails(conn: Connection, account_id: int, contact_id: int) -> int:
    return conn.execute(
        delete(queued_mails).where(
            queued_mails.c.account_id == account_id, queued_mails.c.contact_id == contact_id
        )
    ).rowcount


def drop_identifiers(conn: Connection, account_id: int, contact_id: int) -> int:
    """Deletes the contact's extra1, extra2 and tracking tokens."""
    return conn.execute(
        delete(contact_identities).where(
            contact_identities.c.account_id == account_id,
            contact_identities.c.contact_id == contact_id,
        )
    ).rowcount


def erase_ledger_rows(conn: Connection, account_id: int, contact_id: int) -> int:
    """Blanks the address and the given values the contact's delivery ledger rows keep."""
    return conn.execute(
        update(delivery_recipients)
        .where(
            delivery_recipients.c.account_id == account_id,
            delivery_recipients.c.contact_id == contact_id,
        )
        .values(email="", properties=None)
    ).rowcount


def drop_confirmation_tasks(conn: Connection, account_id: int, contact_id: int) -> int:
    return conn.execute(
        delete(confirmation_tasks).where(
            confirmation_tasks.c.account_id == account_id,
            confirmation_tasks.c.contact_id == contact_id,
        )
    ).rowcount


# The marketing ban list


def banned_contact_ids(
    conn: Connection, account_id: int, *, offset: int, limit: int, email: str | None
) -> list[int]:
    """Banned contacts (deleted ones too: the ban still holds), in id order."""
    query = select(contacts.c.id).where(
        contacts.c.account_id == account_id,
        contacts.c.banned_at.is_not(None),
        contacts.c.forgotten_at.is_(None),
    )
    if email is not None:
        query = query.where(contacts.c.email == email)
    rows = conn.execute(query.order_by(contacts.c.id).offset(offset).limit(limit))
    return [row.id for row in rows]


# Reads for the data file and the shadow


def memberships_ever(conn: Connection, account_id: int, contact_id: int) -> list:
    """Every membership row of the contact, ended ones too, with the list's name."""
    return conn.execute(
        select(
            list_members.c.list_id,
            mailing_lists.c.name.label("list_name"),
            list_members.c.status,
            list_members.c.is_admin,
            list_members.c.joined_at,
            list_members.c.left_at,
            list_members.c.reason,
            list_members.c.origin,
        )
        .join(mailing_lists, mailing_lists.c.id == list_members.c.list_id)
        .where(list_members.c.account_id == account_id, list_members.c.contact_id == contact_id)
        .order_by(list_members.c.list_id)
    ).all()


def confirmation_tasks_of(conn: Connection, account_id: int, contact_id: int) -> list:
    return conn.execute(
        select(
            confirmation_tasks.c.kind,
            confirmation_tasks.c.task,
            confirmation_tasks.c.created_at,
            confirmation_tasks.c.done_at,
        )
        .where(
            confirmation_tasks.c.account_id == account_id,
            confirmation_tasks.c.contact_id == contact_id,
        )
        .order_by(confirmation_tasks.c.id)
    ).all()


def shadow_counts(conn: Connection, account_id: int, contact_id: int) -> tuple[list[int], int, int]:
    """The lists the contact ever belonged to, and how many consents and events it has."""
    list_ids = [
        row.list_id
        for row in conn.execute(
            select(list_members.c.list_id)
            .where(list_members.c.account_id == account_id, list_members.c.contact_id == contact_id)
            .order_by(list_members.c.list_id)
        )
    ]
    consent_count = (
        select(func.count())
        .where(
            member_consents.c.account_id == account_id,
            member_consents.c.contact_id == contact_id,
        )
        .scalar_subquery()
    )
    event_count = (
        select(func.count())
        .where(events.c.account_id == account_id, events.c.contact_id == contact_id)
        .scalar_subquery()
    )
    consents_n, events_n = conn.execute(select(consent_count, event_count)).one()
    return list_ids, consents_n, events_n
