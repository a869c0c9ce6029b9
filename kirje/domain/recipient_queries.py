"""Named sets of contacts listed by id, and a contact's status at a glance."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

# At most this many identifiers per status lookup (the seed's limit for per-recipient reads).
MAX_STATUS_LOOKUPS = 1000
# At most this many members' property values in one answer, the first by contact id.
MAX_PROPERTY_MEMBERS = 1000


class ContactSet(StrEnum):
    """Which contacts a listing of ids draws from. Forgotten contacts are in none of them."""

    # Every contact not deleted that matches the listing's filter (a filter is needed).
    MATCHING = "matching"
    # The members of one static or dynamic list.
    LIST_MEMBERS = "list-members"
    # Every contact not deleted.
    ALL = "all"
    # Contacts not deleted that have been sent at least one mail.
    MAILED = "mailed"
    # Contacts that may be mailed: enabled and not deleted, bounced or banned.
    ACTIVE = "active"
    # Contacts not deleted with no active membership in any list.
    UNASSOCIATED = "unassociated"
    # Deleted contacts (soft delete; not forgotten).
    DELETED = "deleted"
    # Contacts whose address bounced, deleted or not.
    BOUNCED = "bounced"


@dataclass(frozen=True)
class ContactStatus:
    contact_id: int
    email: str | None
    sms: str | None
    is_enabled: bool
    is_deleted: bool
    is_bounced: bool
    is_banned: bool
    is_confirmed: bool
    # Membership status by list id: active, unsubscribed or removed.
    list_statuses: dict[int, str] = field(default_factory=dict)
