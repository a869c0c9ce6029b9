"""The event vocabulary: every change a contact goes through appends one of these."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class EventType(StrEnum):
    # The names LianaMailer v3 speaks; the others are Kirje's own.
    CREATED = "created"
    DATA_CHANGE = "data-change"
    CONFIRMED = "confirmed"
    LIST_JOIN = "list-join"
    LIST_QUIT = "list-quit"
    DELETED = "deleted"
    REACTIVATED = "reactivated"
    UNSUBSCRIBED = "unsubscribed"
    CONSENT_GIVEN = "consent-given"
    CONSENT_REVOKED = "consent-revoked"
    BANNED = "banned"
    WELCOME_QUEUED = "welcome-queued"


@dataclass(frozen=True)
class Event:
    id: int
    account_id: int
    contact_id: int | None
    type: str
    at: datetime
    list_id: int | None = None
    data: dict = field(default_factory=dict)
