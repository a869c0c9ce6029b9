"""Mailing lists and their static memberships."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from sqlalchemy import (
    Connection,
    Select,
    and_,
    case,
    delete,
    distinct,
    exists,
    false,
    func,
    insert,
    or_,
    select,
    union,
    update,
)
from sqlalchemy.engine import Row

from kirje.domain.conditions import parse_condition
from kirje.domain.lists import (
    ListKind,
    MailingList,
    MemberCondition,
    MemberPage,
    MembershipStatus,
)
from kirje.store.conditions import condition_clause
from kirje.store.contacts import is_mailable
from kirje.store.schema import contacts, list_external_ids, list_members, mailing_lists

ACTIVE = MembershipStatus.ACTIVE.value


def _mailing_list(row: Row, member_count: int = 0, sms_count: int | None = None) -> MailingList:
    return MailingList(
        id=row.id,
        account_id=row.account_id,
        name=row.name,
        description=row.description,
        kind=ListKind(row.kind),
        is_self_service=row.is_self_service,
        condition=row.condition,
        cem_segment=row.cem_segment,
        site_id=row.site_id,
        created_at=row.created_at,
        member_count=member_count,
        sms_member_count=sms_count,
        is_hidden=row.is_hidden,
        deleted_at=row.deleted_at,
        folder=row.folder,
    )


def insert_list(conn: Connection, *, account_id: int, now: datetime, **values) -> int:
    return conn.execute(
        insert(mailing_lists)
        .values(account_id=account_id, created_at=now, **values)
        .returning(mailing_lists.c.id)
    ).scalar_one()


def update_list(conn: Connection, account_id: int, list_id: int, **values) -> None:
    conn.execute(
        update(mailing_lists)
        .where(mailing_lists.c.account_id == account_id, mailing_lists.c.id == list_id)
        .values(**values)
    )


def _active_members(account_id: int):
    """Active memberships of contacts that still exist and are not deleted."""
    return and_(
        list_members.c.account_id == account_id,
        list_members.c.status == ACTIVE,
        contacts.c.id == list_members.c.contact_id,
        contacts.c.deleted_at.is_(None),
    )


def member_ids(account_id: int, mailing_list: MailingList | None) -> Select:
    """The ids of a list's members: stored memberships for a static list, the condition
    evaluated over the account's contacts for a dynamic one (computed on read, never cached);
    every contact not deleted when there is no list."""
    if mailing_list is None:
        return select(contacts.c.id).where(
            contacts.c.account_id == account_id, contacts.c.deleted_at.is_(None)
        )
    if mailing_list.kind is ListKind.DYNAMIC and mailing_list.condition:
        excluded = exists().where(
            list_members.c.list_id == mailing_list.id,
            list_members.c.contact_id == contacts.c.id,
            list_members.c.status != ACTIVE,
        )
        return select(contacts.c.id).where(
            contacts.c.account_id == account_id,
            contacts.c.deleted_at.is_(None),
            condition_clause(parse_condition(mailing_list.condition)),
            ~excluded,
        )
    if mailing_list.kind is not ListKind.STATIC:
        return select(contacts.c.id).where(false())
    return (
        select(contacts.c.id)
        .select_from(list_members.join(contacts, contacts.c.id == list_members.c.contact_id))
        .where(_active_members(account_id), list_members.c.list_id == mailing_list.id)
    )


def count_members(
    conn: Connection, account_id: int, mailing_list: MailingList, *, with_sms=False
) -> int:
    members = member_ids(account_id, mailing_list)
    if with_sms:
        members = members.where(contacts.c.sms.is_not(None))
    return conn.execute(select(func.count()).select_from(members.subquery())).scalar_one()


def find_list(
    conn: Connection,
    account_id: int,
    list_id: int,
    *,
    include_deleted=False,
    with_sms=False,
    with_counts=True,
) -> MailingList | None:
    query = select(mailing_lists).where(
        mailing_lists.c.account_id == account_id, mailing_lists.c.id == list_id
    )
    if not include_deleted:
        query = query.where(mailing_lists.c.deleted_at.is_(None))
    row = conn.execute(query).first()
    if row is None:
        return None
    found = _mailing_list(row)
    if not with_counts:
        # Counting a dynamic list evaluates its condition: skipped when nobody reads it.
        return found
    sms_count = count_members(conn, account_id, found, with_sms=True) if with_sms else None
    return replace(
        found, member_count=count_members(conn, account_id, found), sms_member_count=sms_count
    )


def all_lists(conn: Connection, account_id: int, *, include_deleted=False) -> list[MailingList]:
    counts = (
        select(list_members.c.list_id, func.count().label("members"))
        .select_from(list_members.join(contacts, contacts.c.id == list_members.c.contact_id))
        .where(_active_members(account_id))
        .group_by(list_members.c.list_id)
        .subquery()
    )
    query = (
        select(mailing_lists, func.coalesce(counts.c.members, 0).label("member_count"))
        .outerjoin(counts, counts.c.list_id == mailing_lists.c.id)
        .where(mailing_lists.c.account_id == account_id)
        .order_by(mailing_lists.c.id)
    )
    if not include_deleted:
        query = query.where(mailing_lists.c.deleted_at.is_(None))
    found = [_mailing_list(row, row.member_count) for row in conn.execute(query)]
    return [
        replace(m, member_count=count_members(conn, account_id, m))
        if m.kind is ListKind.DYNAMIC
        else m
        for m in found
    ]


def membership_statuses(
    conn: Connection, account_id: int, list_id: int, contact_ids: Iterable[int]
) -> dict[int, str]:
    ids = list(set(contact_ids))
    if not ids:
        return {}
    rows = conn.execute(
        select(list_members.c.contact_id, list_members.c.status).where(
            list_members.c.account_id == account_id,
            list_members.c.list_id == list_id,
            list_members.c.contact_id.in_(ids),
        )
    )
    return {row.contact_id: row.status for row in rows}


def insert_memberships(
    conn: Connection, *, account_id: int, list_id: int, contact_ids: list[int], **values
) -> None:
    if contact_ids:
        conn.execute(
            insert(list_members),
            [
                dict(account_id=account_id, list_id=list_id, contact_id=cid, **values)
                for cid in contact_ids
            ],
        )


def exclude_from_list(
    conn: Connection,
    account_id: int,
    list_id: int,
    contact_ids: list[int],
    status: str,
    now: datetime,
    **values,
) -> list[int]:
    """Writes an exclusion row (a membership that is not active) for each contact that has
    none on the list yet; returns those contacts."""
    statuses = membership_statuses(conn, account_id, list_id, contact_ids)
    new = [cid for cid in dict.fromkeys(contact_ids) if cid not in statuses]
    insert_memberships(
        conn,
        account_id=account_id,
        list_id=list_id,
        contact_ids=new,
        status=status,
        joined_at=now,
        left_at=now,
        **values,
    )
    return new


def set_membership_status(
    conn: Connection,
    *,
    account_id: int,
    list_ids: Iterable[int],
    contact_id_list: list[int],
    from_statuses: Iterable[str],
    **values,
) -> list[tuple[int, int]]:
    """Moves the matching memberships to new values; returns (list_id, contact_id) moved."""
    condition = and_(
        list_members.c.account_id == account_id,
        list_members.c.list_id.in_(list(list_ids)),
        list_members.c.contact_id.in_(contact_id_list),
        list_members.c.status.in_(list(from_statuses)),
    )
    moved = conn.execute(
        select(list_members.c.list_id, list_members.c.contact_id).where(condition)
    ).all()
    if moved:
        conn.execute(update(list_members).where(condition).values(**values))
    return [(row.list_id, row.contact_id) for row in moved]


def active_list_ids(conn: Connection, account_id: int, contact_ids: list[int]) -> list[int]:
    rows = conn.execute(
        select(list_members.c.list_id)
        .distinct()
        .where(
            list_members.c.account_id == account_id,
            list_members.c.contact_id.in_(contact_ids),
            list_members.c.status == ACTIVE,
        )
    )
    return [row.list_id for row in rows]


def active_member_ids(conn: Connection, account_id: int, list_id: int) -> list[int]:
    rows = conn.execute(
        select(list_members.c.contact_id).where(
            list_members.c.account_id == account_id,
            list_members.c.list_id == list_id,
            list_members.c.status == ACTIVE,
        )
    )
    return [row.contact_id for row in rows]


def member_page(
    conn: Connection, account_id: int, mailing_list: MailingList | None, page: MemberPage
) -> list[int]:
    """Contact ids of a list's members (of every contact when no list), ordered, filtered
    and paged as LianaMailer pages them."""
    return page_of_ids(conn, member_ids(account_id, mailing_list), page)


def page_of_ids(conn: Connection, ids: Select, page: MemberPage) -> list[int]:
    """One page of a select of contact ids, filtered, ordered and paged in SQL."""
    query = matching_ids(conn, ids, page.filter_text)
    sort_key = _sort_column(page.order_by or "id")
    query = query.order_by(
        sort_key.desc() if page.descending else sort_key.asc(),
        contacts.c.id.desc() if page.descending else contacts.c.id.asc(),
    )
    query = query.offset(page.offset)
    if page.limit:
        query = query.limit(page.limit)
    return [row.id for row in conn.execute(query)]


def count_ids(conn: Connection, ids: Select, filter_text: str | None = None) -> int:
    """How many contacts a select of contact ids holds once filtered (before paging)."""
    query = matching_ids(conn, ids, filter_text)
    return conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()


def matching_ids(conn: Connection, ids: Select, filter_text: str | None) -> Select:
    return ids.where(_matches_filter(conn, filter_text)) if filter_text else ids


def _sort_column(order_by: str):
    if order_by in ("id", "email", "sms", "created_at", "updated_at"):
        return contacts.c[order_by]
    return contacts.c.properties[order_by].as_string()


def _matches_filter(conn: Connection, filter_text: str):
    if filter_text == "has_email":
        return contacts.c.email.is_not(None)
    if filter_text == "has_sms":
        return contacts.c.sms.is_not(None)
    if conn.dialect.name == "postgresql":
        pairs = func.jsonb_each_text(contacts.c.properties).table_valued("key", "value")
    else:
        pairs = func.json_each(contacts.c.properties).table_valued("key", "value")
    any_property = exists(select(1).select_from(pairs).where(pairs.c.value == filter_text))
    return or_(contacts.c.email == filter_text.lower(), contacts.c.sms == filter_text, any_property)


def unique_member_count(
    conn: Connection, account_id: int, lists: list[MailingList], adhoc_emails: list[str]
) -> int:
    """Distinct contacts across the lists, plus the ad-hoc addresses none of them has."""
    members = union(*(member_ids(account_id, m) for m in lists)).subquery() if lists else None
    counted = 0
    covered: set[str] = set()
    if members is not None:
        counted = conn.execute(select(func.count(distinct(members.c.id)))).scalar_one()
        if adhoc_emails:
            rows = conn.execute(
                select(contacts.c.email).where(
                    contacts.c.id.in_(select(members.c.id)), contacts.c.email.in_(adhoc_emails)
                )
            )
            covered = {row.email for row in rows}
    return counted + len(set(adhoc_emails) - covered)


# External ids: a list's ids in outside systems, one per type.


def external_ids_by_list(
    conn: Connection, account_id: int, list_ids: Iterable[int] | None = None
) -> dict[int, dict[str, str]]:
    """{list id: {type: external id}} for the given lists (every list when None)."""
    query = select(list_external_ids).where(list_external_ids.c.account_id == account_id)
    if list_ids is not None:
        query = query.where(list_external_ids.c.list_id.in_(list(list_ids)))
    grouped: dict[int, dict[str, str]] = {}
    for row in conn.execute(query.order_by(list_external_ids.c.type)):
        grouped.setdefault(row.list_id, {})[row.type] = row.external_id
    return grouped


def list_with_external_id(
    conn: Connection, account_id: int, id_type: str, external_id: str
) -> int | None:
    """The id of the list (not deleted) carrying this external id of this type."""
    return conn.execute(
        select(list_external_ids.c.list_id)
        .join(mailing_lists, mailing_lists.c.id == list_external_ids.c.list_id)
        .where(
            list_external_ids.c.account_id == account_id,
            list_external_ids.c.type == id_type,
            list_external_ids.c.external_id == external_id,
            mailing_lists.c.deleted_at.is_(None),
        )
    ).scalar()


def set_external_id(
    conn: Connection, account_id: int, list_id: int, id_type: str, external_id: str
) -> None:
    """Gives the list this external id for the type, replacing the one it had."""
    delete_external_ids(conn, account_id, list_id, id_type)
    conn.execute(
        insert(list_external_ids).values(
            account_id=account_id, list_id=list_id, type=id_type, external_id=external_id
        )
    )


def delete_external_ids(
    conn: Connection, account_id: int, list_id: int, id_type: str | None = None
) -> None:
    """Removes the list's external id of the type, or all of them when no type is named."""
    query = delete(list_external_ids).where(
        list_external_ids.c.account_id == account_id, list_external_ids.c.list_id == list_id
    )
    if id_type is not None:
        query = query.where(list_external_ids.c.type == id_type)
    conn.execute(query)


# Health: how much of what a list ever gathered can still be mailed.


def static_health_counts(
    conn: Connection, account_id: int, list_ids: list[int]
) -> dict[int, tuple[int, int]]:
    """{list id: (mailable active members, everyone who ever joined)} in one grouped query;
    lists nobody ever joined are absent."""
    if not list_ids:
        return {}
    mailable = and_(list_members.c.status == ACTIVE, is_mailable())
    rows = conn.execute(
        select(
            list_members.c.list_id,
            func.sum(case((mailable, 1), else_=0)).label("mailable"),
            func.count().label("ever_joined"),
        )
        .select_from(list_members.join(contacts, contacts.c.id == list_members.c.contact_id))
        .where(list_members.c.account_id == account_id, list_members.c.list_id.in_(list_ids))
        .group_by(list_members.c.list_id)
    )
    return {row.list_id: (int(row.mailable or 0), int(row.ever_joined)) for row in rows}


def dynamic_health_counts(
    conn: Connection, account_id: int, mailing_list: MailingList
) -> tuple[int, int]:
    """(mailable, all) among the contacts a dynamic list's condition matches now."""
    members = member_ids(account_id, mailing_list).add_columns(
        case((is_mailable(), 1), else_=0).label("is_mailable")
    )
    found = members.subquery()
    row = conn.execute(
        select(func.coalesce(func.sum(found.c.is_mailable), 0), func.count()).select_from(found)
    ).one()
    return int(row[0]), int(row[1])


# Members by what happened to them, for CSV reports.


def member_ids_by_condition(
    account_id: int,
    mailing_list: MailingList,
    condition: MemberCondition,
    since: datetime | None,
    until: datetime | None,
) -> Select:
    """Ids of the list's contacts (not deleted) that match the condition within the range;
    an open end of the range is unbounded. `new` is every current member."""
    if condition is MemberCondition.NEW:
        return member_ids(account_id, mailing_list)
    if condition is MemberCondition.BOUNCED:
        return member_ids(account_id, mailing_list).where(
            *_within(contacts.c.bounced_at, since, until)
        )
    if mailing_list.kind is not ListKind.STATIC:
        # Dynamic members are computed on read: nobody joins or leaves them.
        return select(contacts.c.id).where(false())
    moments = {
        MemberCondition.JOINED: (list_members.c.joined_at, None),
        MemberCondition.LEFT: (list_members.c.left_at, MembershipStatus.REMOVED.value),
        MemberCondition.UNSUBSCRIBED: (
            list_members.c.left_at,
            MembershipStatus.UNSUBSCRIBED.value,
        ),
    }
    moment, status = moments[condition]
    query = (
        select(contacts.c.id)
        .select_from(list_members.join(contacts, contacts.c.id == list_members.c.contact_id))
        .where(
            list_members.c.account_id == account_id,
            list_members.c.list_id == mailing_list.id,
            contacts.c.deleted_at.is_(None),
            *_within(moment, since, until),
        )
    )
    return query.where(list_members.c.status == status) if status else query


def _within(column, since: datetime | None, until: datetime | None) -> list:
    bounds = [column.is_not(None)]
    if since is not None:
        bounds.append(column >= since)
    if until is not None:
        bounds.append(column <= until)
    return bounds


def contact_rows(conn: Connection, account_id: int, ids: Select) -> list[Row]:
    """email, sms and the property document of the selected contacts, in id order."""
    chosen = ids.subquery()
    return conn.execute(
        select(contacts.c.email, contacts.c.sms, contacts.c.properties)
        .where(contacts.c.account_id == account_id, contacts.c.id.in_(select(chosen.c.id)))
        .order_by(contacts.c.id)
    ).all()


def find_static_list_by_name(
    conn: Connection, account_id: int, name: str, folder: str
) -> int | None:
    """The oldest undeleted static list of that name in that folder."""
    return conn.execute(
        select(mailing_lists.c.id)
        .where(
            mailing_lists.c.account_id == account_id,
            mailing_lists.c.name == name,
            mailing_lists.c.folder == folder,
            mailing_lists.c.kind == "static",
            mailing_lists.c.deleted_at.is_(None),
        )
        .order_by(mailing_lists.c.id)
        .limit(1)
    ).scalar()
