"""Joining and leaving lists: the one place their rules live.

Functions here run inside the caller's transaction, because joins happen as part of
larger use cases (create-and-join, imports).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection

from kirje.domain.errors import Invalid, NotFound
from kirje.domain.events import EventType
from kirje.domain.lists import ListKind, MailingList, MembershipStatus
from kirje.store import contacts as contact_store
from kirje.store import events as event_store
from kirje.store import lists as list_store

ACTIVE = MembershipStatus.ACTIVE.value
UNSUBSCRIBED = MembershipStatus.UNSUBSCRIBED.value
REMOVED = MembershipStatus.REMOVED.value


def joinable_list(conn: Connection, account_id: int, list_id: int) -> MailingList:
    mailing_list = list_store.find_list(conn, account_id, list_id)
    if mailing_list is None:
        raise NotFound(f"mailing list {list_id} not found")
    if mailing_list.kind is not ListKind.STATIC:
        raise Invalid(
            f"mailing list {list_id} is {mailing_list.kind.value}: members follow its rule"
        )
    return mailing_list


def join(
    conn: Connection,
    account_id: int,
    list_id: int,
    contact_ids: Iterable[int],
    *,
    now: datetime,
    is_admin: bool = True,
    reason: str | None = None,
    origin: str | None = None,
    rejoin: bool = False,
    ignore_missing: bool = False,
) -> list[int]:
    """Makes the contacts active members; returns the ids that became members now.

    A contact who left the list on their own comes back only through their own action
    (is_admin false) or an explicit rejoin: no integration re-adds an unsubscriber by accident.
    """
    joinable_list(conn, account_id, list_id)
    wanted = list(dict.fromkeys(contact_ids))
    found = contact_store.existing_ids(conn, account_id, wanted)
    missing = [cid for cid in wanted if cid not in found]
    if missing and not ignore_missing:
        raise NotFound(f"recipients not found: {', '.join(map(str, missing))}")
    wanted = [cid for cid in wanted if cid in found]
    statuses = list_store.membership_statuses(conn, account_id, list_id, wanted)
    new = [cid for cid in wanted if cid not in statuses]
    comeback_from = [REMOVED] + ([UNSUBSCRIBED] if rejoin or not is_admin else [])
    fields = dict(is_admin=is_admin, joined_at=now, left_at=None, reason=reason, origin=origin)
    list_store.insert_memberships(
        conn, account_id=account_id, list_id=list_id, contact_ids=new, status=ACTIVE, **fields
    )
    returned = list_store.set_membership_status(
        conn,
        account_id=account_id,
        list_ids=[list_id],
        contact_id_list=[cid for cid in wanted if cid in statuses],
        from_statuses=comeback_from,
        status=ACTIVE,
        **fields,
    )
    joined = new + [cid for _, cid in returned]
    event_store.append_events(
        conn,
        [
            event_store.event_row(
                account_id,
                cid,
                EventType.LIST_JOIN.value,
                now,
                list_id=list_id,
                data=_action_data(is_admin, reason, origin),
            )
            for cid in joined
        ],
    )
    return joined


def leave(
    conn: Connection,
    account_id: int,
    contact_ids: list[int],
    list_ids: list[int] | None,
    *,
    now: datetime,
    by_contact: bool,
    reason: str | None = None,
    origin: str | None = None,
) -> list[tuple[int, int]]:
    """Ends active memberships of the contacts in the lists (every list when list_ids is
    None); returns the (list_id, contact_id) pairs that ended."""
    if list_ids is None:
        list_ids = list_store.active_list_ids(conn, account_id, contact_ids)
    status = UNSUBSCRIBED if by_contact else REMOVED
    moved = list_store.set_membership_status(
        conn,
        account_id=account_id,
        list_ids=list_ids,
        contact_id_list=contact_ids,
        from_statuses=[ACTIVE],
        status=status,
        left_at=now,
        reason=reason,
        origin=origin,
    )
    for list_id in _dynamic(conn, account_id, list_ids):
        # A dynamic list's members follow its rule; one who leaves it stays out as an
        # exclusion row, which the rule's audience leaves out (kirje.store.lists.member_ids).
        excluded = list_store.exclude_from_list(
            conn, account_id, list_id, contact_ids, status, now, reason=reason, origin=origin
        )
        moved.extend((list_id, contact_id) for contact_id in excluded)
    event_store.append_events(
        conn,
        [
            event_store.event_row(
                account_id,
                contact_id,
                EventType.LIST_QUIT.value,
                now,
                list_id=list_id,
                data=_action_data(not by_contact, reason, origin),
            )
            for list_id, contact_id in moved
        ],
    )
    return moved


def _dynamic(conn: Connection, account_id: int, list_ids: list[int]) -> list[int]:
    found = (
        list_store.find_list(conn, account_id, list_id, with_counts=False) for list_id in list_ids
    )
    return [
        found_list.id for found_list in found if found_list and found_list.kind is ListKind.DYNAMIC
    ]


def _action_data(is_admin: bool, reason: str | None, origin: str | None) -> dict:
    data: dict = {"admin": is_admin}
    if reason:
        data["reason"] = reason
    if origin:
        data["origin"] = origin
    return data
