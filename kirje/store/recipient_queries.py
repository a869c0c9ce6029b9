"""Recipient searches: named sets of contact ids, property matches, statuses, list properties."""

from __future__ import annotations

from sqlalchemy import Connection, Select, literal, or_, select, union_all

from kirje.domain.conditions import Clause, ListCondition, Operator, parse_condition
from kirje.domain.lists import ListKind, MailingList
from kirje.domain.recipient_queries import ContactSet, ContactStatus
from kirje.store.conditions import condition_clause
from kirje.store.contacts import is_in_any_list
from kirje.store.lists import member_ids
from kirje.store.schema import contacts, events, list_members, mailing_lists

MAIL_SENT = "mailsent"


def contact_set_ids(
    account_id: int, contact_set: ContactSet, mailing_list: MailingList | None = None
) -> Select:
    """A select of the ids of the contacts in the set (LIST_MEMBERS needs the list)."""
    if contact_set is ContactSet.LIST_MEMBERS:
        assert mailing_list is not None
        return member_ids(account_id, mailing_list)
    of_account = select(contacts.c.id).where(
        contacts.c.account_id == account_id, contacts.c.forgotten_at.is_(None)
    )
    if contact_set is ContactSet.DELETED:
        return of_account.where(contacts.c.deleted_at.is_not(None))
    if contact_set is ContactSet.BOUNCED:
        return of_account.where(contacts.c.bounced_at.is_not(None))
    present = of_account.where(contacts.c.deleted_at.is_(None))
    if contact_set is ContactSet.ACTIVE:
        return present.where(
            contacts.c.is_enabled,
            contacts.c.bounced_at.is_(None),
            contacts.c.banned_at.is_(None),
        )
    if contact_set is ContactSet.UNASSOCIATED:
        return present.where(~is_in_any_list())
    if contact_set is ContactSet.MAILED:
        mailed = (
            select(1)
            .where(
                events.c.account_id == account_id,
                events.c.contact_id == contacts.c.id,
                events.c.type == MAIL_SENT,
            )
            .exists()
        )
        return present.where(mailed)
    return present


def property_match_ids(account_id: int, name: str, value: str) -> Select:
    """Ids of the contacts (not deleted) whose property `name` holds exactly `value`; read
    from the JSON document the way a dynamic list's `=` condition reads it."""
    equals = ListCondition((Clause(name, Operator.EQUAL, value),), is_enabled=True, source="")
    return select(contacts.c.id).where(
        contacts.c.account_id == account_id,
        contacts.c.deleted_at.is_(None),
        condition_clause(equals),
    )


# What a status is read from: the contact's flags, never its property values.
_STATUS_COLUMNS = (
    contacts.c.id,
    contacts.c.email,
    contacts.c.sms,
    contacts.c.is_enabled,
    contacts.c.confirmed_at,
    contacts.c.deleted_at,
    contacts.c.bounced_at,
    contacts.c.banned_at,
)


def statuses(
    conn: Connection, account_id: int, *, ids: list[int], emails: list[str], numbers: list[str]
) -> list[ContactStatus]:
    """The status of every contact (deleted too, not forgotten) holding one of these ids,
    addresses or numbers, with its memberships: three statements for any number."""
    holds = [
        column.in_(values)
        for column, values in (
            (contacts.c.id, ids),
            (contacts.c.email, emails),
            (contacts.c.sms, numbers),
        )
        if values
    ]
    if not holds:
        return []
    rows = conn.execute(
        select(*_STATUS_COLUMNS).where(
            contacts.c.account_id == account_id, contacts.c.forgotten_at.is_(None), or_(*holds)
        )
    ).all()
    memberships = _list_statuses(conn, account_id, [row.id for row in rows])
    return [
        ContactStatus(
            contact_id=row.id,
            email=row.email,
            sms=row.sms,
            is_enabled=row.is_enabled and row.deleted_at is None,
            is_deleted=row.deleted_at is not None,
            is_bounced=row.bounced_at is not None,
            is_banned=row.banned_at is not None,
            is_confirmed=row.confirmed_at is not None,
            list_statuses=memberships.get(row.id, {}),
        )
        for row in rows
    ]


def _list_statuses(
    conn: Connection, account_id: int, contact_ids: list[int]
) -> dict[int, dict[int, str]]:
    """Stored memberships (any status) in lists that exist, and membership of every dynamic
    list whose condition holds for the contact, by contact and list."""
    if not contact_ids:
        return {}
    stored = (
        select(list_members.c.contact_id, list_members.c.list_id, list_members.c.status)
        .join(mailing_lists, mailing_lists.c.id == list_members.c.list_id)
        .where(
            list_members.c.account_id == account_id,
            list_members.c.contact_id.in_(contact_ids),
            mailing_lists.c.deleted_at.is_(None),
        )
    )
    dynamic = [
        select(contacts.c.id, literal(row.id), literal("active")).where(
            contacts.c.account_id == account_id,
            contacts.c.id.in_(contact_ids),
            contacts.c.deleted_at.is_(None),
            condition_clause(parse_condition(row.condition)),
        )
        for row in conn.execute(
            select(mailing_lists.c.id, mailing_lists.c.condition).where(
                mailing_lists.c.account_id == account_id,
                mailing_lists.c.kind == ListKind.DYNAMIC.value,
                mailing_lists.c.condition.is_not(None),
                mailing_lists.c.deleted_at.is_(None),
            )
        )
    ]
    found: dict[int, dict[int, str]] = {}
    for contact_id, list_id, status in conn.execute(union_all(stored, *dynamic)):
        found.setdefault(contact_id, {})[list_id] = status
    return {cid: dict(sorted(lists.items())) for cid, lists in found.items()}


def member_properties(
    conn: Connection,
    account_id: int,
    mailing_list: MailingList,
    *,
    contact_id: int | None,
    limit: int,
) -> dict[int, dict[str, str]]:
    """Property values of the list's members (or of the one member), the first `limit` by id."""
    query = member_ids(account_id, mailing_list).add_columns(contacts.c.properties)
    if contact_id is not None:
        query = query.where(contacts.c.id == contact_id)
    rows = conn.execute(query.order_by(contacts.c.id).limit(limit))
    return {row.id: dict(row.properties or {}) for row in rows}
