"""Contacts, their list memberships and their consents."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Connection,
    and_,
    bindparam,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Row

from kirje.domain.contacts import Contact, ContactDetails, MemberConsent, Membership
from kirje.domain.lists import MembershipStatus
from kirje.store.matching import one_of
from kirje.store.schema import contacts, list_members, mailing_lists, member_consents


def _contact(row: Row) -> Contact:
    return Contact(
        id=row.id,
        account_id=row.account_id,
        email=row.email,
        sms=row.sms,
        properties=row.properties or {},
        is_enabled=row.is_enabled,
        created_at=row.created_at,
        updated_at=row.updated_at,
        confirmed_at=row.confirmed_at,
        deleted_at=row.deleted_at,
        bounced_at=row.bounced_at,
        banned_at=row.banned_at,
        forgotten_at=row.forgotten_at,
    )


def _lookup(column: str, *, include_deleted: bool):
    query = select(contacts).where(
        contacts.c.account_id == bindparam("account_id"), contacts.c[column] == bindparam("value")
    )
    return query if include_deleted else query.where(contacts.c.deleted_at.is_(None))


# Built once: a statement built per call costs more than the query on the hot read path.
_LOOKUPS = {
    (column, include_deleted): _lookup(column, include_deleted=include_deleted)
    for column in ("id", "email", "sms")
    for include_deleted in (False, True)
}


def _find(
    conn: Connection, account_id: int, column: str, value, include_deleted: bool
) -> Contact | None:
    query = _LOOKUPS[column, bool(include_deleted)]
    row = conn.execute(query, {"account_id": account_id, "value": value}).first()
    return _contact(row) if row else None


def find_by_id(conn: Connection, account_id: int, contact_id: int, *, include_deleted=False):
    return _find(conn, account_id, "id", contact_id, include_deleted)


def find_by_email(conn: Connection, account_id: int, email: str, *, include_deleted=False):
    return _find(conn, account_id, "email", email, include_deleted)


def find_by_sms(conn: Connection, account_id: int, sms: str, *, include_deleted=False):
    return _find(conn, account_id, "sms", sms, include_deleted)


# The columns a membership and a member consent are read from, in one order for both ways of
# reading them: rows of their own, and JSON arrays aggregated into the hot single-contact read.
_MEMBERSHIP_COLUMNS = (list_members.c.list_id, list_members.c.joined_at, list_members.c.is_admin)
_CONSENT_COLUMNS = (
    member_consents.c.id,
    member_consents.c.consent_type_id,
    member_consents.c.revision,
    member_consents.c.lang,
    member_consents.c.source,
    member_consents.c.source_data,
    member_consents.c.given_at,
    member_consents.c.revoked_at,
)


def _membership(values) -> Membership:
    list_id, joined_at, is_admin = values
    return Membership(list_id, _utc(joined_at), bool(is_admin))


def _member_consent(values) -> MemberConsent:
    _, consent_id, revision, lang, source, source_data, given_at, revoked_at = values
    return MemberConsent(
        consent_id, revision, lang, source, source_data, _utc(given_at), _utc(revoked_at)
    )


def _json_list(dialect: str, *columns):
    """An aggregate of rows as a JSON array of arrays, in the backend's own JSON functions."""
    if dialect == "postgresql":
        rows = func.json_agg(func.json_build_array(*columns))
    else:
        rows = func.json_group_array(func.json_array(*columns))
    return func.coalesce(rows, literal_column("'[]'"), type_=JSON)


def _details_lookup(dialect: str, column: str, include_deleted: bool):
    memberships = (
        select(_json_list(dialect, *_MEMBERSHIP_COLUMNS))
        .join(mailing_lists, mailing_lists.c.id == list_members.c.list_id)
        .where(
            list_members.c.account_id == contacts.c.account_id,
            list_members.c.contact_id == contacts.c.id,
            list_members.c.status == MembershipStatus.ACTIVE.value,
            mailing_lists.c.deleted_at.is_(None),
        )
        .scalar_subquery()
    )
    consents = (
        select(_json_list(dialect, *_CONSENT_COLUMNS))
        .where(
            member_consents.c.account_id == contacts.c.account_id,
            member_consents.c.contact_id == contacts.c.id,
        )
        .scalar_subquery()
    )
    lookup = _LOOKUPS[column, include_deleted]
    return lookup.add_columns(
        memberships.label("memberships_json"), consents.label("consents_json")
    )


_DETAILS_LOOKUPS: dict[tuple[str, str, bool], object] = {}


def find_details(
    conn: Connection, account_id: int, column: str, value, *, include_deleted: bool = False
) -> ContactDetails | None:
    """One contact with its memberships and consents, in one round trip: the hot read."""
    key = (conn.dialect.name, column, bool(include_deleted))
    query = _DETAILS_LOOKUPS.get(key)
    if query is None:
        query = _DETAILS_LOOKUPS[key] = _details_lookup(*key)
    row = conn.execute(query, {"account_id": account_id, "value": value}).first()
    if row is None:
        return None
    joined = sorted(row.memberships_json, key=lambda item: item[0])
    given = sorted(row.consents_json, key=lambda item: item[0])
    return ContactDetails(
        contact=_contact(row),
        memberships=[_membership(m) for m in joined],
        consents=[_member_consent(c) for c in given],
    )


def _utc(value: datetime | str | None) -> datetime | None:
    """Timestamps inside JSON come back as text: ISO with offset (PostgreSQL) or naive UTC."""
    if value is None or isinstance(value, datetime):
        return value
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def find_by_any(
    conn: Connection, account_id: int, *, email: str | None, sms: str | None
) -> list[Contact]:
    """Every contact (deleted ones too) holding one of these identifiers."""
    conditions = []
    if email:
        conditions.append(contacts.c.email == email)
    if sms:
        conditions.append(contacts.c.sms == sms)
    if not conditions:
        return []
    rows = conn.execute(
        select(contacts).where(contacts.c.account_id == account_id, or_(*conditions))
    )
    return [_contact(row) for row in rows]


def insert_contact(
    conn: Connection,
    *,
    account_id: int,
    email: str | None,
    sms: str | None,
    properties: dict[str, str],
    now: datetime,
    confirmed: bool,
) -> int:
    return conn.execute(
        insert(contacts)
        .values(
            account_id=account_id,
            email=email,
            sms=sms,
            properties=properties,
            is_enabled=True,
            created_at=now,
            updated_at=now,
            confirmed_at=now if confirmed else None,
        )
        .returning(contacts.c.id)
    ).scalar_one()


def insert_contacts_bulk(
    conn: Connection, account_id: int, rows: list[dict], now: datetime
) -> None:
    """Inserts many new contacts (keys email, sms, properties; all optional) in one statement.

    The rows are taken as they are: callers normalise addresses first.
    """
    if not rows:
        return
    # One executemany: SQLAlchemy batches it into multi-row INSERTs on both backends.
    conn.execute(
        insert(contacts),
        [
            {
                "account_id": account_id,
                "email": row.get("email"),
                "sms": row.get("sms"),
                "properties": row.get("properties") or {},
                "is_enabled": True,
                "created_at": now,
                "updated_at": now,
            }
            for row in rows
        ],
    )


def update_contact(conn: Connection, account_id: int, contact_id: int, now: datetime, **values):
    conn.execute(
        update(contacts)
        .where(contacts.c.account_id == account_id, contacts.c.id == contact_id)
        .values(updated_at=now, **values)
    )


def confirm_contacts(
    conn: Connection, account_id: int, contact_ids: list[int], now: datetime
) -> list[int]:
    """Confirms those of the contacts not confirmed yet; returns their ids. One UPDATE that
    returns what it changed, so of two concurrent confirmations only one reports a contact."""
    if not contact_ids:
        return []
    rows = conn.execute(
        update(contacts)
        .where(
            contacts.c.account_id == account_id,
            contacts.c.id.in_(contact_ids),
            contacts.c.confirmed_at.is_(None),
        )
        .values(confirmed_at=now, updated_at=now)
        .returning(contacts.c.id)
    )
    return sorted(row.id for row in rows)


def confirmation_code_of(conn: Connection, account_id: int, contact_id: int) -> str | None:
    return conn.execute(
        select(contacts.c.confirmation_code).where(
            contacts.c.account_id == account_id, contacts.c.id == contact_id
        )
    ).scalar()


def is_in_any_list():
    """True for a contact (of the enclosing query) with an active membership in a list that
    still exists: the "associated" of getUnassociatedRecipientCount and its listing."""
    return (
        select(1)
        .select_from(list_members.join(mailing_lists, mailing_lists.c.id == list_members.c.list_id))
        .where(
            list_members.c.contact_id == contacts.c.id,
            list_members.c.status == MembershipStatus.ACTIVE.value,
            mailing_lists.c.deleted_at.is_(None),
        )
        .exists()
    )


def unassociated_count(conn: Connection, account_id: int) -> int:
    """Contacts (not deleted) with no active membership in any list that still exists."""
    query = select(func.count()).where(
        contacts.c.account_id == account_id, contacts.c.deleted_at.is_(None), ~is_in_any_list()
    )
    return conn.execute(query).scalar_one()


def existing_ids(conn: Connection, account_id: int, contact_ids: Iterable[int]) -> set[int]:
    wanted = list(set(contact_ids))
    if not wanted:
        return set()
    rows = conn.execute(
        select(contacts.c.id).where(contacts.c.account_id == account_id, contacts.c.id.in_(wanted))
    )
    return {row.id for row in rows}


def find_many(conn: Connection, account_id: int, contact_ids: list[int]) -> dict[int, Contact]:
    if not contact_ids:
        return {}
    rows = conn.execute(
        select(contacts).where(contacts.c.account_id == account_id, contacts.c.id.in_(contact_ids))
    )
    return {row.id: _contact(row) for row in rows}


def is_mailable():
    """Contacts that may be sent mail now: enabled, not deleted, bounced, banned or forgotten."""
    return and_(
        contacts.c.is_enabled.is_(True),
        contacts.c.deleted_at.is_(None),
        contacts.c.bounced_at.is_(None),
        contacts.c.banned_at.is_(None),
        contacts.c.forgotten_at.is_(None),
    )


def properties_of(
    conn: Connection, account_id: int, contact_ids: list[int], *, only_mailable: bool = False
) -> dict[int, dict[str, str]]:
    """Each contact's property values, by id (what rendering a wave of messages reads); with
    only_mailable, contacts that may not be mailed now are left out."""
    if not contact_ids:
        return {}
    conditions = [contacts.c.account_id == account_id, one_of(conn, contacts.c.id, contact_ids)]
    if only_mailable:
        conditions.append(is_mailable())
    rows = conn.execute(select(contacts.c.id, contacts.c.properties).where(*conditions))
    return {row.id: row.properties or {} for row in rows}


_MEMBERSHIPS_OF = (
    select(list_members.c.contact_id, *_MEMBERSHIP_COLUMNS)
    .join(mailing_lists, mailing_lists.c.id == list_members.c.list_id)
    .where(
        list_members.c.account_id == bindparam("account_id"),
        list_members.c.contact_id.in_(bindparam("ids", expanding=True)),
        list_members.c.status == MembershipStatus.ACTIVE.value,
        mailing_lists.c.deleted_at.is_(None),
    )
    .order_by(list_members.c.list_id)
)

_CONSENTS_OF = (
    select(member_consents.c.contact_id, *_CONSENT_COLUMNS)
    .where(
        member_consents.c.account_id == bindparam("account_id"),
        member_consents.c.contact_id.in_(bindparam("ids", expanding=True)),
    )
    .order_by(member_consents.c.id)
)


def _grouped(conn: Connection, query, account_id: int, contact_ids: list[int], build) -> dict:
    """Rows of (contact_id, *columns) built into objects and grouped by contact."""
    grouped: dict[int, list] = {cid: [] for cid in contact_ids}
    if contact_ids:
        for row in conn.execute(query, {"account_id": account_id, "ids": contact_ids}):
            grouped[row[0]].append(build(row[1:]))
    return grouped


def memberships_of(
    conn: Connection, account_id: int, contact_ids: list[int]
) -> dict[int, list[Membership]]:
    """Active memberships in lists that still exist, by contact."""
    return _grouped(conn, _MEMBERSHIPS_OF, account_id, contact_ids, _membership)


def consents_of(
    conn: Connection, account_id: int, contact_ids: list[int]
) -> dict[int, list[MemberConsent]]:
    return _grouped(conn, _CONSENTS_OF, account_id, contact_ids, _member_consent)


def details_of(conn: Connection, account_id: int, contacts_: list[Contact]) -> list[ContactDetails]:
    """Contacts with their memberships and consents: three queries for any number."""
    ids = [c.id for c in contacts_]
    lists_by_contact = memberships_of(conn, account_id, ids)
    consents_by_contact = consents_of(conn, account_id, ids)
    return [ContactDetails(c, lists_by_contact[c.id], consents_by_contact[c.id]) for c in contacts_]


def details_by_ids(
    conn: Connection, account_id: int, contact_ids: list[int], *, include_deleted: bool
) -> list[ContactDetails]:
    """The contacts among these ids, in the order given, with their details; missing ids
    (and deleted contacts, unless included) are left out."""
    wanted = list(dict.fromkeys(contact_ids))
    found = find_many(conn, account_id, wanted)
    kept = [found[i] for i in wanted if i in found and (include_deleted or not found[i].is_deleted)]
    return details_of(conn, account_id, kept)


def insert_member_consent(conn: Connection, *, account_id: int, contact_id: int, **values) -> int:
    return conn.execute(
        insert(member_consents)
        .values(account_id=account_id, contact_id=contact_id, **values)
        .returning(member_consents.c.id)
    ).scalar_one()


def revoke_member_consents(
    conn: Connection,
    *,
    account_id: int,
    contact_id: int,
    consent_id: int,
    revision: int,
    lang: str,
    now: datetime,
) -> int:
    """Marks the matching, still valid consents revoked; returns how many."""
    result = conn.execute(
        update(member_consents)
        .where(
            and_(
                member_consents.c.account_id == account_id,
                member_consents.c.contact_id == contact_id,
                member_consents.c.consent_type_id == consent_id,
                member_consents.c.revision == revision,
                func.upper(member_consents.c.lang) == lang.upper(),
                member_consents.c.revoked_at.is_(None),
            )
        )
        .values(revoked_at=now)
    )
    return result.rowcount
