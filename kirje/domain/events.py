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
    BAN_LIFTED = "ban-lifted"
    # GDPR erasure: its data holds counts only, never what was erased.
    FORGOTTEN = "forgotten"
    WELCOME_QUEUED = "welcome-queued"
    CONFIRMATION_QUEUED = "confirmation-queued"
    # An import named two contacts as one person: the other one's events are this one's now.
    MERGED = "merged"
    # Written by the sending pipeline; counted by recipient statistics.
    MAIL_SENT = "mailsent"
    MAIL_OPEN = "mailopen"
    MAIL_LINK = "maillink"
    MAIL_BOUNCE = "mailbounce"


@dataclass(frozen=True)
class Event:
    id: int
    account_id: int
    contact_id: int | None
    type: str
    at: datetime
    list_id: int | None = None
    data: dict = field(default_factory=dict)
