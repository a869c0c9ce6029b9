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
    folder: str = ""  # "" is the root folder; "Newsletters/2026" nests


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


class MemberCondition(StrEnum):
    """Which members getMailingListMembersByCondition reads, over a time range."""

    # Joined the list within the range (whatever their status now).
    JOINED = "joined"
    # Taken off the list by an administrator or integration within the range.
    LEFT = "left"
    # Left on their own within the range.
    UNSUBSCRIBED = "unsubscribed"
    # Current members whose address bounced within the range.
    BOUNCED = "bounced"
    # Every current member; the range is ignored.
    NEW = "new"


def member_condition(value: str | None) -> MemberCondition:
    allowed = ", ".join(c.value for c in MemberCondition)
    if not value:
        raise Invalid(f"condition is required: one of {allowed}")
    try:
        return MemberCondition(value.strip().lower())
    except ValueError:
        raise Invalid(f"unknown condition {value!r}: use one of {allowed}") from None


# Longest external id and type a list may carry (list_external_ids columns).
MAX_EXTERNAL_ID = 200
MAX_EXTERNAL_ID_TYPE = 100


def external_id_pair(external_id: str | None, id_type: str | None) -> tuple[str, str]:
    """A list's id in an outside system and the name of that system, both required."""
    cleaned_id = (external_id or "").strip()
    cleaned_type = (id_type or "").strip()
    if not cleaned_id:
        raise Invalid("external_id is required")
    if not cleaned_type:
        raise Invalid("external_id_type is required")
    if len(cleaned_id) > MAX_EXTERNAL_ID:
        raise Invalid(f"external_id is longer than {MAX_EXTERNAL_ID} characters")
    if len(cleaned_type) > MAX_EXTERNAL_ID_TYPE:
        raise Invalid(f"external_id_type is longer than {MAX_EXTERNAL_ID_TYPE} characters")
    return cleaned_id, cleaned_type


def health_percent(mailable: int, ever_joined: int) -> int:
    """A list's health: the whole percentage of everyone who ever joined that can still be
    mailed. A list nobody has joined has nothing wrong with it: 100."""
    if ever_joined <= 0:
        return 100
    return (100 * min(mailable, ever_joined)) // ever_joined


def normalize_folder(path: str | None) -> str | None:
    """A list folder path as stored: "" for the root ("/" or "" given), "A/B" for nested ones
    (surrounding and doubled slashes dropped); None when no folder was given at all."""
    if path is None:
        return None
    parts = [part.strip() for part in path.split("/") if part.strip()]
    folder = "/".join(parts)
    if len(folder) > 500:
        raise Invalid("folder path is longer than 500 characters")
    return folder
