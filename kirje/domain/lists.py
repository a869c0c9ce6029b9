"""Mailing lists: static, dynamic (a condition over contacts) and segment lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from kirje.domain.errors import Invalid


class ListKind(StrEnum):
    STATIC = "static"
    DYNAMIC = "dynamic"
    SEGMENT = "segment"


class MembershipStatus(StrEnum):
    ACTIVE = "active"
    # The contact left on their own: imports and truncation never bring them back.
    UNSUBSCRIBED = "unsubscribed"
    # An administrator or integration took the contact off the list.
    REMOVED = "removed"


@dataclass(frozen=True)
class MailingList:
    id: int
    account_id: int
    name: str
    description: str
    kind: ListKind
    is_self_service: bool
    condition: str | None
    cem_segment: int | None
    site_id: int | None
    created_at: datetime
    member_count: int = 0
    sms_member_count: int | None = None
    is_hidden: bool = False
    deleted_at: datetime | None = None


@dataclass(frozen=True)
class MemberPage:
    """Which contacts of a listing to return, in what order: offset, count (None for all),
    the field to sort by (a contact column or a property name) and an exact-match filter."""

    offset: int = 0
    limit: int | None = None
    order_by: str = "id"
    descending: bool = False
    filter_text: str | None = None

    def __post_init__(self) -> None:
        if self.offset < 0 or (self.limit is not None and self.limit < 0):
            raise Invalid("offset and count must not be negative")


# The whole listing, in id order.
EVERYONE = MemberPage()
