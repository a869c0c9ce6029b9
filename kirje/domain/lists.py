"""Mailing lists: static, dynamic (a condition over contacts) and segment lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


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
